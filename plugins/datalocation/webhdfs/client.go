package webhdfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

// The two ops that answer block locations.
const (
	OpGetFileBlockLocations = "GETFILEBLOCKLOCATIONS" // Hadoop 3.2+: BlockLocations
	OpGetBlockLocations     = "GET_BLOCK_LOCATIONS"   // older: LocatedBlocks
)

// maxBody bounds how much of an answer is read.
const maxBody = 64 << 20

// Options configure a Client.
type Options struct {
	// URL is the WebHDFS server's base URL, e.g. "http://nn.example:9870";
	// "/webhdfs/v1" is appended to its path.
	URL string
	// User is sent as user.name (security off); empty sends none.
	User string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
}

// Client is a Locator that asks a WebHDFS server.
type Client struct {
	base   *url.URL
	user   string
	hc     *http.Client
	legacy atomic.Bool // the server refused GETFILEBLOCKLOCATIONS
}

var _ datalocation.Locator = (*Client)(nil)

// New checks the options.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("webhdfs: url %q: %w", o.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhdfs: url %q: want http:// or https:// with a host", o.URL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("webhdfs: url %q: may not have a query or fragment", o.URL)
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: u, user: o.User, hc: hc}, nil
}

// Config keys accepted by FromConfig.
const (
	KeyURL  = "url"
	KeyUser = "user"
)

// FromConfig builds a Client from keys "url" (required) and "user". It is the
// registry factory for "webhdfs".
func FromConfig(cfg datalocation.Config) (datalocation.Locator, error) {
	if err := cfg.Check("webhdfs", KeyURL, KeyUser); err != nil {
		return nil, err
	}
	u, err := cfg.Required("webhdfs", KeyURL)
	if err != nil {
		return nil, err
	}
	return New(Options{URL: u, User: cfg.Get(KeyUser, "")})
}

// BlockInfoByteRange implements datalocation.Locator.
func (c *Client) BlockInfoByteRange(ctx context.Context, file string, offset, length int64) ([]datalocation.Block, error) {
	if err := datalocation.CheckRange(offset, length); err != nil {
		return nil, fmt.Errorf("locate blocks of %s: %w", file, err)
	}
	if !path.IsAbs(file) {
		return nil, fmt.Errorf("locate blocks of %q: file must be an absolute path", file)
	}
	blocks, err := c.locate(ctx, file, offset, length)
	if err != nil {
		return nil, fmt.Errorf("locate blocks of %s via webhdfs at %s: %w", file, c.base.Redacted(), err)
	}
	return datalocation.Select(blocks, offset, length), nil
}

// locate asks with GETFILEBLOCKLOCATIONS, falling back to
// GET_BLOCK_LOCATIONS for good once the server refuses the former.
func (c *Client) locate(ctx context.Context, file string, offset, length int64) ([]datalocation.Block, error) {
	if !c.legacy.Load() {
		body, err := c.get(ctx, OpGetFileBlockLocations, file, offset, length)
		if err == nil {
			return decodeBlockLocations(body)
		}
		if !refusesOp(err, OpGetFileBlockLocations) {
			return nil, fmt.Errorf("%s: %w", OpGetFileBlockLocations, err)
		}
		c.legacy.Store(true)
	}
	body, err := c.get(ctx, OpGetBlockLocations, file, offset, length)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", OpGetBlockLocations, err)
	}
	return decodeLocatedBlocks(body)
}

// refusesOp reports whether err is a server saying it does not know op.
func refusesOp(err error, op string) bool {
	var re *RemoteError
	if !errors.As(err, &re) || re.Status != http.StatusBadRequest {
		return false
	}
	switch re.Exception {
	case "": // HttpFS before HDFS-6874: a bare 400
		return re.Message == ""
	case "IllegalArgumentException", "UnsupportedOperationException":
		return strings.Contains(re.Message, op)
	}
	return false
}

// get sends one request and returns the body of a 200 answer, or a
// *RemoteError.
func (c *Client) get(ctx context.Context, op, file string, offset, length int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.requestURL(op, file, offset, length), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("answer larger than %d bytes", maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, decodeRemoteError(resp.StatusCode, body)
	}
	return body, nil
}

// requestURL is BASE/webhdfs/v1FILE?op=OP&offset=N[&length=N][&user.name=U].
func (c *Client) requestURL(op, file string, offset, length int64) string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/webhdfs/v1" + path.Clean(file)
	u.RawPath = ""
	q := url.Values{}
	q.Set("op", op)
	q.Set("offset", strconv.FormatInt(offset, 10))
	if length >= 0 {
		q.Set("length", strconv.FormatInt(length, 10))
	}
	if c.user != "" {
		q.Set("user.name", c.user)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
