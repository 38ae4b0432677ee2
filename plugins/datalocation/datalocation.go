package datalocation

import (
	"context"
	"fmt"
	"math"
)

// Block is one stored block of a file: its byte range in the file and the
// storage hosts that hold a usable copy. Hosts is empty when no host does (a
// hole in a sparse file, or every copy lost); the block still has its range so
// that the blocks of a file stay contiguous.
type Block struct {
	Offset int64
	Length int64
	// Hosts are named as the file system names them: "10.213.0.11" for a
	// MooseFS chunkserver, "dn3.example" for an HDFS DataNode. No ports.
	Hosts []string
}

// End is the offset just past the block.
func (b Block) End() int64 { return b.Offset + b.Length }

// Locator finds the blocks of a file.
type Locator interface {
	// BlockInfoByteRange returns, in file order, every whole block that
	// overlaps [offset, offset+length); length < 0 means to the end of the
	// file. An empty range or one past the end gives no blocks and no error.
	// A missing file gives an error wrapping ErrNotFound; a negative offset
	// one wrapping ErrBadRange.
	BlockInfoByteRange(ctx context.Context, file string, offset, length int64) ([]Block, error)
}

// CheckRange validates the arguments of BlockInfoByteRange. Any length is
// valid (< 0 means to the end of the file); the offset must be >= 0.
func CheckRange(offset, length int64) error {
	if offset < 0 {
		return fmt.Errorf("offset %d: must be >= 0: %w", offset, ErrBadRange)
	}
	return nil
}

// Select keeps the blocks that overlap [offset, offset+length), with
// length < 0 meaning to the end. Blocks must be in file order. The result is
// a new slice; the blocks' Hosts are shared with the input.
func Select(blocks []Block, offset, length int64) []Block {
	if length == 0 {
		return nil
	}
	end, bounded := rangeEnd(offset, length)
	var out []Block
	for _, b := range blocks {
		if b.End() <= offset || b.Length <= 0 {
			continue
		}
		if bounded && b.Offset >= end {
			break
		}
		out = append(out, b)
	}
	return out
}

// rangeEnd is offset+length, or bounded=false when the range runs to the end
// of the file (length < 0, or so large that the sum would overflow).
func rangeEnd(offset, length int64) (end int64, bounded bool) {
	if length < 0 || length > math.MaxInt64-offset {
		return 0, false
	}
	return offset + length, true
}
