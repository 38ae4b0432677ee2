package ganglia

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// charsetReader decodes the encodings gmond and gmetad declare
// (ISO-8859-1) for encoding/xml, which reads only UTF-8 itself.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii":
		return &latin1Reader{r: bufio.NewReader(in)}, nil
	}
	return nil, fmt.Errorf("unsupported xml encoding %q (accepted: UTF-8, ISO-8859-1)", label)
}

// latin1Reader turns ISO-8859-1 bytes into UTF-8.
type latin1Reader struct {
	r *bufio.Reader
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		b, err := l.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b < utf8.RuneSelf {
			p[n] = b
			n++
			continue
		}
		if n+2 > len(p) {
			_ = l.r.UnreadByte() // cannot fail right after ReadByte
			if n == 0 {
				return 0, io.ErrShortBuffer
			}
			break
		}
		n += utf8.EncodeRune(p[n:], rune(b))
	}
	return n, nil
}
