package webhdfs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

// blockLocations is the GETFILEBLOCKLOCATIONS answer (BlockLocations JSON Schema).
type blockLocations struct {
	BlockLocations *blockLocationList `json:"BlockLocations"`
}

type blockLocationList struct {
	BlockLocation []blockLocation `json:"BlockLocation"`
}

type blockLocation struct {
	CachedHosts   []string `json:"cachedHosts"`
	Corrupt       bool     `json:"corrupt"`
	Hosts         []string `json:"hosts"`
	Length        int64    `json:"length"`
	Names         []string `json:"names"`
	Offset        int64    `json:"offset"`
	StorageTypes  []string `json:"storageTypes"`
	TopologyPaths []string `json:"topologyPaths"`
}

// locatedBlocks is the GET_BLOCK_LOCATIONS answer (JsonUtil's LocatedBlocks).
type locatedBlocks struct {
	LocatedBlocks *struct {
		FileLength          int64          `json:"fileLength"`
		IsUnderConstruction bool           `json:"isUnderConstruction"`
		IsLastBlockComplete bool           `json:"isLastBlockComplete"`
		LocatedBlocks       []locatedBlock `json:"locatedBlocks"`
	} `json:"LocatedBlocks"`
}

type locatedBlock struct {
	StartOffset int64 `json:"startOffset"`
	IsCorrupt   bool  `json:"isCorrupt"`
	Block       struct {
		BlockID  int64 `json:"blockId"`
		NumBytes int64 `json:"numBytes"`
	} `json:"block"`
	Locations []datanodeInfo `json:"locations"`
}

type datanodeInfo struct {
	HostName string `json:"hostName"`
	IPAddr   string `json:"ipAddr"`
	XferPort int    `json:"xferPort"`
}

// remoteException is the error answer (RemoteException JSON Schema).
type remoteException struct {
	RemoteException *remoteExceptionBody `json:"RemoteException"`
}

type remoteExceptionBody struct {
	Exception     string `json:"exception"`
	JavaClassName string `json:"javaClassName"`
	Message       string `json:"message"`
}

// decodeBlockLocations reads a GETFILEBLOCKLOCATIONS answer into blocks.
func decodeBlockLocations(body []byte) ([]datalocation.Block, error) {
	var v blockLocations
	if err := decodeStrict(body, &v); err != nil {
		return nil, fmt.Errorf("decode BlockLocations: %w", err)
	}
	if v.BlockLocations == nil {
		return nil, errors.New(`decode BlockLocations: no "BlockLocations" object`)
	}
	var blocks []datalocation.Block
	for _, bl := range v.BlockLocations.BlockLocation {
		hosts := nonEmpty(bl.Hosts)
		if len(hosts) == 0 {
			hosts = hostsOf(bl.Names)
		}
		blocks = append(blocks, datalocation.Block{Offset: bl.Offset, Length: bl.Length, Hosts: hosts})
	}
	if err := checkOrder(blocks); err != nil {
		return nil, fmt.Errorf("decode BlockLocations: %w", err)
	}
	return blocks, nil
}

// decodeLocatedBlocks reads a GET_BLOCK_LOCATIONS answer into blocks.
func decodeLocatedBlocks(body []byte) ([]datalocation.Block, error) {
	var v locatedBlocks
	if err := decodeStrict(body, &v); err != nil {
		return nil, fmt.Errorf("decode LocatedBlocks: %w", err)
	}
	if v.LocatedBlocks == nil {
		return nil, errors.New(`decode LocatedBlocks: no "LocatedBlocks" object`)
	}
	var blocks []datalocation.Block
	for _, lb := range v.LocatedBlocks.LocatedBlocks {
		var hosts []string
		for _, dn := range lb.Locations {
			if h := firstNonEmpty(dn.HostName, dn.IPAddr); h != "" {
				hosts = append(hosts, h)
			}
		}
		blocks = append(blocks, datalocation.Block{Offset: lb.StartOffset, Length: lb.Block.NumBytes, Hosts: hosts})
	}
	if err := checkOrder(blocks); err != nil {
		return nil, fmt.Errorf("decode LocatedBlocks: %w", err)
	}
	return blocks, nil
}

// decodeRemoteError builds the error for a non-200 answer.
func decodeRemoteError(status int, body []byte) *RemoteError {
	var v remoteException
	if json.Unmarshal(body, &v) == nil && v.RemoteException != nil && v.RemoteException.Exception != "" {
		r := v.RemoteException
		return &RemoteError{Status: status, Exception: r.Exception, JavaClassName: r.JavaClassName, Message: r.Message}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return &RemoteError{Status: status, Message: msg}
}

// decodeStrict unmarshals exactly one JSON value.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// checkOrder requires non-negative, non-overlapping blocks in file order.
func checkOrder(blocks []datalocation.Block) error {
	var end int64
	for i, b := range blocks {
		if b.Offset < 0 || b.Length < 0 || b.Offset > b.Offset+b.Length {
			return fmt.Errorf("block %d: bad range offset %d length %d", i, b.Offset, b.Length)
		}
		if b.Offset < end {
			return fmt.Errorf("block %d at offset %d overlaps the previous one, ending at %d", i, b.Offset, end)
		}
		end = b.End()
	}
	return nil
}

// hostsOf turns "ip:port" names into hosts.
func hostsOf(names []string) []string {
	var hosts []string
	for _, n := range names {
		if h, _, err := net.SplitHostPort(n); err == nil && h != "" {
			hosts = append(hosts, h)
		} else if n != "" {
			hosts = append(hosts, n)
		}
	}
	return hosts
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
