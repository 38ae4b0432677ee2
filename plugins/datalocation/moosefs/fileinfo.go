package moosefs

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

// ChunkSize is the size of a MooseFS chunk: every chunk but the last of a
// file covers exactly this many bytes.
const ChunkSize = 64 << 20

// ParseFileInfo reads the output of `mfsfileinfo FILE` for one file of size
// bytes. It returns one Block per chunk the size implies, in order; a chunk's
// Hosts are the IP addresses of its VALID copies (copies printed without a
// status, as older tools do, count as valid). Holes ("chunk N: empty", or
// chunks the output does not list) and chunks with "no valid copies" get no
// hosts. Chunks listed beyond the size (the file grew after it was measured)
// are ignored. An error message in place of the listing becomes an error,
// wrapping datalocation.ErrNotFound when it says ENOENT.
func ParseFileInfo(out []byte, size int64) ([]datalocation.Block, error) {
	if size < 0 {
		return nil, fmt.Errorf("parse mfsfileinfo output: negative file size %d", size)
	}
	hosts, err := parseChunks(out)
	if err != nil {
		return nil, fmt.Errorf("parse mfsfileinfo output: %w", err)
	}
	n := (size + ChunkSize - 1) / ChunkSize
	blocks := make([]datalocation.Block, 0, n)
	for i := int64(0); i < n; i++ {
		off := i * ChunkSize
		blocks = append(blocks, datalocation.Block{
			Offset: off,
			Length: min(ChunkSize, size-off),
			Hosts:  nilIfEmpty(hosts[i]),
		})
	}
	return blocks, nil
}

// chunkParser holds the state of one pass over mfsfileinfo's lines.
type chunkParser struct {
	hosts   map[int64][]string // chunk index -> valid copy hosts
	current int64              // index of the chunk being listed, -1 before any
	header  bool
}

// parseChunks maps chunk indexes to the hosts of their valid copies.
func parseChunks(out []byte) (map[int64][]string, error) {
	p := chunkParser{hosts: map[int64][]string{}, current: -1}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := p.line(line); err != nil {
			return nil, fmt.Errorf("line %d %q: %w", lineNo, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !p.header {
		return nil, fmt.Errorf("empty output")
	}
	return p.hosts, nil
}

func (p *chunkParser) line(line string) error {
	if !p.header {
		return p.headerLine(line)
	}
	t := strings.TrimSpace(line)
	switch {
	case t == "no chunks - empty file":
		return nil
	case strings.HasPrefix(t, "chunk "):
		return p.chunkLine(t)
	case strings.HasPrefix(t, "copy "):
		return p.copyLine(t)
	case strings.HasSuffix(t, "!!!") && p.current >= 0:
		// "no valid copies !!!", "copies have different checksums !!!",
		// "couldn't add this chunk to signature !!!": no hosts to add.
		return nil
	}
	return outputError(t)
}

// headerLine accepts "FILE:"; anything else is the tool's error message.
func (p *chunkParser) headerLine(line string) error {
	if strings.HasPrefix(line, "\t") || !strings.HasSuffix(line, ":") {
		return outputError(line)
	}
	p.header = true
	return nil
}

// chunkLine reads "chunk N: empty" or "chunk N: 000..01_00000001 / (id:1 ver:1)".
func (p *chunkParser) chunkLine(t string) error {
	num, rest, ok := strings.Cut(strings.TrimPrefix(t, "chunk "), ":")
	if !ok {
		return fmt.Errorf("chunk line without \":\"")
	}
	idx, err := strconv.ParseInt(num, 10, 64)
	if err != nil || idx < 0 {
		return fmt.Errorf("bad chunk index %q", num)
	}
	if idx <= p.current {
		return fmt.Errorf("chunk index %d after %d", idx, p.current)
	}
	p.current = idx
	if strings.TrimSpace(rest) == "empty" {
		p.hosts[idx] = nil // a hole: no copy lines may follow
		return nil
	}
	p.hosts[idx] = []string{}
	return nil
}

// copyLine reads "copy K: IP:PORT", optionally followed by " (status:S)" or
// " (status:S ; blocks: ...)" and " - can't get checksum".
func (p *chunkParser) copyLine(t string) error {
	if p.current < 0 || p.hosts[p.current] == nil {
		return fmt.Errorf("copy line outside a chunk with copies")
	}
	_, rest, ok := strings.Cut(t, ":")
	if !ok {
		return fmt.Errorf("copy line without \":\"")
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return fmt.Errorf("copy line without an address")
	}
	host, _, err := net.SplitHostPort(fields[0])
	if err != nil {
		return fmt.Errorf("bad copy address %q: %w", fields[0], err)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("bad copy address %q: %w", fields[0], err)
	}
	if copyStatus(rest) != "VALID" {
		return nil
	}
	if !contains(p.hosts[p.current], host) {
		p.hosts[p.current] = append(p.hosts[p.current], host)
	}
	return nil
}

// copyStatus extracts S from "(status:S)" or "(status:S ; ...)"; a copy line
// without a status comes from tools that list only valid copies.
func copyStatus(rest string) string {
	_, after, ok := strings.Cut(rest, "(status:")
	if !ok {
		return "VALID"
	}
	end := strings.IndexAny(after, ";)")
	if end < 0 {
		return strings.TrimSpace(after)
	}
	return strings.TrimSpace(after[:end])
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
