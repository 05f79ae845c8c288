package target

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/backstore"
	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

const testIQN = "iqn.2026-11.dev.xtgt:test"

// newTestServer serves a target with one 64 MiB RAM LUN on a loopback port.
func newTestServer(t testing.TB, cfg Config, mod func(*Target)) (*Server, string) {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	srv := NewServer(cfg)
	dev := scsi.NewTarget(cfg.Log)
	ram, err := backstore.NewRAM(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.AddLU(0, scsi.LUConfig{Backend: ram, WriteBack: true}); err != nil {
		t.Fatal(err)
	}
	tg := &Target{Name: testIQN, SCSI: dev}
	if mod != nil {
		mod(tg)
	}
	if err := srv.AddTarget(tg); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, l.Addr().String()
}

// rawClient is a minimal initiator for driving the target PDU by PDU.
type rawClient struct {
	t      testing.TB
	nc     net.Conn
	r      *pdu.Reader
	w      *pdu.Writer
	cmdSN  uint32
	statSN uint32
	itt    uint32
	params login.Params
}

func dialRaw(t testing.TB, addr string, cfg login.InitiatorConfig, isid uint64) (*rawClient, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawClient{t: t, nc: nc, r: pdu.NewReader(nc, 64<<10), w: pdu.NewWriter(nc), cmdSN: 1}
	if cfg.InitiatorName == "" {
		cfg.InitiatorName = "iqn.2026-11.dev.xtgt:rawclient"
	}
	if cfg.Want.MaxRecvDataSegmentLength == 0 {
		cfg.Want = login.DefaultParams()
	}
	neg := login.NewInitiator(&cfg)
	req := neg.Start()
	h := make(pdu.BHS, pdu.BHSLen)
	for i := 0; i < 16; i++ {
		var o pdu.Out
		b := o.BHS()
		b.SetOpcode(pdu.OpLoginReq)
		b.SetImmediate(true)
		b.SetFinal(req.Transit)
		b.SetContinue(req.Continue)
		b.SetStages(uint8(req.CSG), uint8(req.NSG))
		b.SetISID(isid)
		b.SetITT(c.itt)
		b.SetCmdSN(c.cmdSN)
		b.SetExpStatSN(c.statSN)
		o.Data = req.Text
		c.w.Queue(&o)
		if err := c.w.Flush(); err != nil {
			return nil, err
		}
		if _, err := c.r.ReadHeader(h); err != nil {
			return nil, err
		}
		data := make([]byte, h.DataSegmentLength())
		if err := c.r.ReadData(data); err != nil {
			return nil, err
		}
		c.statSN = h.StatSN() + 1
		resp := login.Response{CSG: login.Stage(h.CSG()), NSG: login.Stage(h.NSG()), Transit: h.Final(),
			Continue: h.Continue(), StatusClass: h.StatusClass(), StatusDetail: h.StatusDetail(), Text: data}
		next, done, err := neg.Next(resp)
		if err != nil {
			return nil, err
		}
		if done {
			c.params = neg.Params()
			c.r.HeaderDigest, c.r.DataDigest = c.params.HeaderDigest, c.params.DataDigest
			c.w.HeaderDigest, c.w.DataDigest = c.params.HeaderDigest, c.params.DataDigest
			_ = nc.SetDeadline(time.Time{})
			return c, nil
		}
		req = next
	}
	return nil, errors.New("login did not finish")
}

func (c *rawClient) send(o *pdu.Out) {
	c.t.Helper()
	c.w.Queue(o)
	if err := c.w.Flush(); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// read returns the next PDU, or an error (io.EOF when the target closed).
func (c *rawClient) read(timeout time.Duration) (pdu.BHS, []byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	h := make(pdu.BHS, pdu.BHSLen)
	if _, err := c.r.ReadHeader(h); err != nil {
		return nil, nil, err
	}
	data := make([]byte, h.DataSegmentLength())
	if err := c.r.ReadData(data); err != nil {
		return nil, nil, err
	}
	return h, data, nil
}

// scsi sends a non-immediate SCSI command with optional immediate data.
func (c *rawClient) scsi(cdb []byte, read bool, edtl uint32, imm []byte) uint32 {
	var o pdu.Out
	h := o.BHS()
	h.SetOpcode(pdu.OpSCSICommand)
	h.SetFinal(true)
	h.SetRead(read)
	h.SetWrite(!read && edtl > 0)
	h.SetAttr(1)
	c.itt++
	h.SetITT(c.itt)
	h.SetEDTL(edtl)
	h.SetCmdSN(c.cmdSN)
	c.cmdSN++
	h.SetExpStatSN(c.statSN)
	copy(h.CDB(), cdb)
	o.Data = imm
	c.send(&o)
	return c.itt
}

func isClosed(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		(errors.As(err, &ne) && !ne.Timeout())
}

func errorsAs(err error, target any) bool { return err != nil && errors.As(err, target) }

// clearUA sends TEST UNIT READY until it succeeds (the first command of a new I_T nexus reports POWER ON).
func (c *rawClient) clearUA() {
	c.t.Helper()
	for i := 0; i < 4; i++ {
		c.scsi([]byte{0, 0, 0, 0, 0, 0}, false, 0, nil)
		h, _, err := c.read(5 * time.Second)
		if err != nil {
			c.t.Fatal(err)
		}
		if h.Opcode() == pdu.OpSCSIResponse && h.Status() == 0 {
			return
		}
	}
	c.t.Fatal("unit attention does not clear")
}
