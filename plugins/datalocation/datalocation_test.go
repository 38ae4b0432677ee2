package datalocation

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

func blocks(n int, size int64) []Block {
	var out []Block
	for i := range n {
		out = append(out, Block{Offset: int64(i) * size, Length: size, Hosts: []string{string(rune('a' + i))}})
	}
	return out
}

func TestSelect(t *testing.T) {
	bs := blocks(4, 10) // [0,10) [10,20) [20,30) [30,40)
	tests := []struct {
		name           string
		offset, length int64
		want           []Block
	}{
		{"all", 0, -1, bs},
		{"exact first", 0, 10, bs[:1]},
		{"one byte into second", 10, 1, bs[1:2]},
		{"straddling", 9, 2, bs[0:2]},
		{"middle to end", 15, -1, bs[1:]},
		{"zero length", 5, 0, nil},
		{"past end", 40, -1, nil},
		{"overflowing length", 35, math.MaxInt64, bs[3:]},
	}
	for _, tt := range tests {
		if got := Select(bs, tt.offset, tt.length); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Select(%d, %d) = %v, want %v", tt.name, tt.offset, tt.length, got, tt.want)
		}
	}
}

// Every selected block overlaps the range, and every block that overlaps it
// is selected.
func TestSelectProperty(t *testing.T) {
	bs := blocks(6, 7)
	for off := int64(0); off < 50; off++ {
		for length := int64(-1); length < 50; length++ {
			got := Select(bs, off, length)
			var want []Block
			for _, b := range bs {
				end := off + length
				if length < 0 {
					end = math.MaxInt64
				}
				if b.Offset < end && b.End() > off && length != 0 {
					want = append(want, b)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Select(%d, %d) = %v, want %v", off, length, got, want)
			}
		}
	}
}

func TestCheckRange(t *testing.T) {
	if err := CheckRange(0, -1); err != nil {
		t.Errorf("CheckRange(0, -1) = %v", err)
	}
	if err := CheckRange(-1, 5); !errors.Is(err, ErrBadRange) {
		t.Errorf("CheckRange(-1, 5) = %v, want ErrBadRange", err)
	}
}
