package target

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
)

// panicWatch is a slog handler that records log messages mentioning a panic (the target recovers panics in its
// connection goroutines and logs them; a fuzz input that reaches one is a bug).
type panicWatch struct {
	mu     sync.Mutex
	panics []string
}

func (p *panicWatch) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicWatch) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		p.mu.Lock()
		p.panics = append(p.panics, r.Message)
		p.mu.Unlock()
	}
	return nil
}
func (p *panicWatch) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicWatch) WithGroup(string) slog.Handler      { return p }

// FuzzFullFeaturePDUs logs in and then sends arbitrary bytes as full-feature-phase PDUs: the target must answer,
// reject or close, and never panic.
func FuzzFullFeaturePDUs(f *testing.F) {
	cmd := func(op pdu.Opcode, mod func(pdu.BHS), data []byte) []byte {
		var o pdu.Out
		h := o.BHS()
		h.SetOpcode(op)
		h.SetFinal(true)
		h.SetCmdSN(1)
		h.SetITT(5)
		mod(h)
		h.SetDataSegmentLength(len(data))
		b := append([]byte{}, o.Hdr[:pdu.BHSLen]...)
		b = append(b, data...)
		return append(b, make([]byte, pdu.Pad(len(data)))...)
	}
	f.Add(cmd(pdu.OpSCSICommand, func(h pdu.BHS) {
		h.SetRead(true)
		h.SetEDTL(512)
		copy(h.CDB(), []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0})
	}, nil))
	f.Add(cmd(pdu.OpSCSICommand, func(h pdu.BHS) {
		h.SetWrite(true)
		h.SetEDTL(1024)
		copy(h.CDB(), []byte{0x2a, 0, 0, 0, 0, 0, 0, 0, 2, 0})
	}, make([]byte, 512)))
	f.Add(cmd(pdu.OpDataOut, func(h pdu.BHS) { h.SetTTT(pdu.ReservedTag); h.SetBufferOffset(1 << 30) }, make([]byte, 8)))
	f.Add(cmd(pdu.OpTaskMgmtReq, func(h pdu.BHS) { h.SetFlags(0x80 | pdu.TMFAbortTask); h.SetRefTaskTag(5) }, nil))
	f.Add(cmd(pdu.OpTextReq, func(h pdu.BHS) { h.SetTTT(pdu.ReservedTag) }, []byte("SendTargets=All\x00")))
	f.Add(cmd(pdu.OpSCSICommand, func(h pdu.BHS) { h.SetTotalAHSLength(8) }, nil))
	f.Add(cmd(pdu.OpLogoutReq, func(h pdu.BHS) { h.SetFlags(0x80 | 5) }, nil))
	f.Add(cmd(pdu.OpNOPOut, func(h pdu.BHS) { h.SetTTT(pdu.ReservedTag) }, []byte("ping")))
	f.Add([]byte{0x3f, 0xff, 0xff, 0xff})
	watch := &panicWatch{}
	_, addr := newTestServer(f, Config{Log: slog.New(watch)}, nil)
	var isid uint64
	f.Fuzz(func(t *testing.T, b []byte) {
		isid++
		c, err := dialRaw(t, addr, login.InitiatorConfig{TargetName: testIQN}, isid)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.nc.Write(b); err != nil {
			return
		}
		// Drain answers until the target closes or goes quiet.
		for i := 0; i < 32; i++ {
			if _, _, err := c.read(50 * time.Millisecond); err != nil {
				break
			}
		}
		c.nc.Close()
		watch.mu.Lock()
		defer watch.mu.Unlock()
		if len(watch.panics) > 0 {
			t.Fatalf("target panicked: %v", watch.panics)
		}
	})
}
