package initiator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
)

// RawConn is a logged-in connection with no session machinery: the caller sends whatever bytes or PDUs it
// likes and reads the target's PDUs one by one. It exists for negative tests and is not safe for concurrent use.
type RawConn struct {
	nc        net.Conn
	r         *pdu.Reader
	w         *pdu.Writer
	params    login.Params
	tsih      uint16
	cmdSN     uint32
	expStatSN uint32
}

// DialRaw connects to opts.Address and logs in like Dial, returning the bare connection.
func DialRaw(ctx context.Context, opts Options) (*RawConn, error) {
	nc, err := dial(ctx, &opts)
	if err != nil {
		return nil, err
	}
	return DialRawConn(ctx, nc, opts)
}

// DialRawConn logs in over nc and returns the bare connection (nc is closed on failure).
func DialRawConn(ctx context.Context, nc net.Conn, opts Options) (*RawConn, error) {
	o, err := opts.withDefaults()
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	if o.TargetName == "" {
		_ = nc.Close()
		return nil, errors.New("initiator: TargetName required")
	}
	r := pdu.NewReader(nc, 64<<10)
	w := pdu.NewWriter(nc)
	res, err := doLogin(ctx, nc, r, w, &o, login.SessionNormal)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	p := res.params
	r.HeaderDigest, r.DataDigest = p.HeaderDigest, p.DataDigest
	w.HeaderDigest, w.DataDigest = p.HeaderDigest, p.DataDigest
	r.MaxData = int(p.MaxRecvDataSegmentLength)
	return &RawConn{nc: nc, r: r, w: w, params: p, tsih: res.tsih, cmdSN: res.cmdSN, expStatSN: res.expStatSN}, nil
}

// Params returns the negotiated parameters.
func (c *RawConn) Params() login.Params { return c.params }

// Conn returns the underlying stream.
func (c *RawConn) Conn() net.Conn { return c.nc }

// CmdSN returns the next CmdSN; NextCmdSN returns it and advances it (for a non-immediate request).
func (c *RawConn) CmdSN() uint32 { return c.cmdSN }

// NextCmdSN returns the next CmdSN and advances it.
func (c *RawConn) NextCmdSN() uint32 {
	c.cmdSN++
	return c.cmdSN - 1
}

// ExpStatSN is one past the last StatSN read.
func (c *RawConn) ExpStatSN() uint32 { return c.expStatSN }

// WritePDU sends o with its lengths and digests filled in as negotiated.
func (c *RawConn) WritePDU(o *pdu.Out) error {
	c.w.Queue(o)
	return c.w.Flush()
}

// WriteRaw sends b as it is.
func (c *RawConn) WriteRaw(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

// ReadPDU reads one PDU within timeout and returns a copy of its header and data segment. A data segment
// longer than our MaxRecvDataSegmentLength is returned as pdu.ErrDataTooLong with the header.
func (c *RawConn) ReadPDU(timeout time.Duration) (pdu.BHS, []byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = c.nc.SetReadDeadline(time.Time{}) }()
	h := make(pdu.BHS, pdu.BHSLen)
	if _, err := c.r.ReadHeader(h); err != nil {
		return h, nil, err
	}
	switch h.Opcode() {
	case pdu.OpSCSIResponse, pdu.OpTaskMgmtResp, pdu.OpTextResp, pdu.OpLogoutResp, pdu.OpReject, pdu.OpAsyncMsg:
		c.expStatSN = h.StatSN() + 1
	case pdu.OpDataIn:
		if h.Flags()&pdu.DataInStatus != 0 {
			c.expStatSN = h.StatSN() + 1
		}
	case pdu.OpNOPIn:
		if h.ITT() != pdu.ReservedTag {
			c.expStatSN = h.StatSN() + 1
		}
	}
	data := make([]byte, h.DataSegmentLength())
	if err := c.r.ReadData(data); err != nil {
		return h, nil, fmt.Errorf("initiator: raw read data: %w", err)
	}
	return h, data, nil
}

// Close closes the connection.
func (c *RawConn) Close() error { return c.nc.Close() }
