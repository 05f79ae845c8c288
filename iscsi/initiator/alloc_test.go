package initiator

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
)

// stubTarget is a minimal responder that itself allocates nothing per command, so that the allocations counted
// while it serves are the initiator's alone. It logs in with login.TargetNegotiator, answers every read with
// Data-In carrying status (READ CAPACITY gets 2^20 blocks of 512 bytes), and every write whose data came as
// immediate data with a GOOD SCSI Response.
func stubTarget(t testing.TB, nc net.Conn) {
	t.Helper()
	r := pdu.NewReader(nc, 64<<10)
	w := pdu.NewWriter(nc)
	var hb [pdu.BHSLen]byte
	h := pdu.BHS(hb[:])
	var out pdu.Out
	cfg := &login.TargetConfig{
		Lookup: func(string, string) (login.TargetInfo, error) { return login.TargetInfo{Name: testIQN}, nil },
		Limits: login.DefaultParams(),
	}
	cfg.Limits.MaxRecvDataSegmentLength = 256 << 10
	var neg *login.TargetNegotiator
	statSN := uint32(0)
	data := make([]byte, 1<<20)
	for {
		if _, err := r.ReadHeader(h); err != nil {
			return
		}
		n := h.DataSegmentLength()
		if n > len(data) {
			return
		}
		if err := r.ReadData(data[:n]); err != nil {
			return
		}
		out.Reset()
		o := out.BHS()
		o.SetITT(h.ITT())
		o.SetStatSN(statSN)
		o.SetExpCmdSN(h.CmdSN() + 1)
		o.SetMaxCmdSN(h.CmdSN() + 64)
		switch h.Opcode() {
		case pdu.OpLoginReq:
			if neg == nil {
				neg = login.NewTarget(cfg, h.ISID(), 0)
			}
			resp, err := neg.Step(login.Request{CSG: login.Stage(h.CSG()), NSG: login.Stage(h.NSG()),
				Transit: h.Final(), Text: data[:n]})
			o.SetOpcode(pdu.OpLoginResp)
			o.SetFinal(resp.Transit)
			o.SetStages(uint8(resp.CSG), uint8(resp.NSG))
			o.SetISID(h.ISID())
			o.SetTSIH(1)
			o.SetExpCmdSN(h.CmdSN())
			o.SetMaxCmdSN(h.CmdSN() + 63)
			o.SetLoginStatus(resp.StatusClass, resp.StatusDetail)
			out.Data = resp.Text
			if err != nil {
				w.Queue(&out)
				_ = w.Flush()
				return
			}
		case pdu.OpSCSICommand:
			o.SetFinal(true)
			if h.Read() {
				o.SetOpcode(pdu.OpDataIn)
				o.SetFlags(0x80 | pdu.DataInStatus)
				l := int(h.EDTL())
				if h.CDB()[0] == 0x9e {
					clear(data[:32])
					binary.BigEndian.PutUint64(data, 1<<20-1)
					binary.BigEndian.PutUint32(data[8:], 512)
				}
				out.Data = data[:l]
			} else {
				o.SetOpcode(pdu.OpSCSIResponse)
			}
		case pdu.OpNOPOut:
			o.SetOpcode(pdu.OpNOPIn)
			o.SetFinal(true)
			o.SetTTT(pdu.ReservedTag)
			o.SetExpCmdSN(h.CmdSN())
		case pdu.OpLogoutReq:
			o.SetOpcode(pdu.OpLogoutResp)
			o.SetFinal(true)
		default:
			return
		}
		statSN++
		w.Queue(&out)
		if err := w.Flush(); err != nil {
			return
		}
		if h.Opcode() == pdu.OpLoginReq && neg.Params().SessionType != "" && o.NSG() == 3 && o.Final() {
			r.MaxData = 256 << 10
		}
	}
}

func stubSession(t testing.TB) *Session {
	t.Helper()
	a, b := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		stubTarget(t, b)
		_ = b.Close()
	}()
	s, err := DialConn(context.Background(), a, Options{TargetName: testIQN, MaxTasks: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		wg.Wait()
	})
	if _, _, err := s.ReadCapacity(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestZeroAllocs: steady-state READ(16) and WRITE(16) allocate nothing in the initiator (the stub target
// allocates nothing either, so the process-wide count is the initiator's).
func TestZeroAllocs(t *testing.T) {
	s := stubSession(t)
	ctx := context.Background()
	buf := make([]byte, 4096)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"read", func() {
			if err := s.ReadAt(ctx, 0, 8, buf); err != nil {
				t.Fatal(err)
			}
		}},
		{"write", func() {
			if err := s.WriteAt(ctx, 0, 8, buf, false); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		tc.f() // warm the pools
		if n := testing.AllocsPerRun(200, tc.f); n != 0 {
			t.Errorf("%s: %.1f allocations per I/O", tc.name, n)
		}
	}
}

// BenchmarkStubRead4K measures the initiator alone (against the allocation-free stub over net.Pipe).
func BenchmarkStubRead4K(b *testing.B) {
	s := stubSession(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(4096)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4096)
		for pb.Next() {
			if err := s.ReadAt(ctx, 0, 8, buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTargetRead4K and BenchmarkTargetWrite4K run against the real target over loopback; the allocation
// count includes the target's.
func BenchmarkTargetRead4K(b *testing.B)  { benchTarget(b, false) }
func BenchmarkTargetWrite4K(b *testing.B) { benchTarget(b, true) }

func benchTarget(b *testing.B, write bool) {
	tt := startTarget(b, targetOpts{})
	s := tt.dial(b, Options{})
	ctx := context.Background()
	_ = s.TestUnitReady(ctx, 0)
	if _, _, err := s.ReadCapacity(ctx, 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(4096)
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4096)
		lba := uint64(0)
		for pb.Next() {
			lba = (lba + 8) % (64 << 20 / 512)
			var err error
			if write {
				err = s.WriteAt(ctx, 0, lba, buf, false)
			} else {
				err = s.ReadAt(ctx, 0, lba, buf)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
