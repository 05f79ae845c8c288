package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// defaultSocket mirrors xtgtd's default: /run/xtgt/xtgtd.sock for root, else $XDG_RUNTIME_DIR/xtgtd.sock, else
// /tmp/xtgtd-UID.sock.
func defaultSocket() string {
	if os.Geteuid() == 0 {
		return "/run/xtgt/xtgtd.sock"
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "xtgtd.sock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("xtgtd-%d.sock", os.Getuid()))
}

// client speaks the admin API: HTTP with JSON bodies over a unix socket.
type client struct {
	socket string
	hc     *http.Client
}

func newClient(socket string) *client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
	return &client{socket: socket, hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// call sends a request and returns the raw JSON answer; an error status becomes an error carrying the
// daemon's message.
func (c *client) call(method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, "http://xtgtd"+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("cannot reach %s: is xtgtd running with --admin-socket? (%w)", c.socket, unwrapOp(err))
		}
		if errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("cannot reach %s: permission denied (the socket is owner-only)", c.socket)
		}
		return nil, fmt.Errorf("admin request: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("admin response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("xtgtd answered %s", resp.Status)
	}
	return b, nil
}

func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}

func targetPath(iqn string) string { return "/v1/targets/" + url.PathEscape(iqn) + "/luns" }
