package target

import (
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
)

func BenchmarkTargetRead4K(b *testing.B)  { benchLoop(b, false, 4096) }
func BenchmarkTargetWrite4K(b *testing.B) { benchLoop(b, true, 4096) }
func BenchmarkTargetRead1M(b *testing.B)  { benchLoop(b, false, 1<<20) }
func BenchmarkTargetWrite1M(b *testing.B) { benchLoop(b, true, 1<<20) }

func benchLoop(b *testing.B, write bool, size int) {
	_, addr := newTestServer(b, Config{}, nil)
	c, err := dialRaw(b, addr, login.InitiatorConfig{TargetName: testIQN}, 77)
	if err != nil {
		b.Fatal(err)
	}
	c.clearUA()
	_ = c.nc.SetReadDeadline(time.Time{}) // clearUA left one
	blocks := size / 512
	cdb := []byte{0x28, 0, 0, 0, 0, 0, 0, byte(blocks >> 8), byte(blocks), 0}
	if write {
		cdb[0] = 0x2a
	}
	data := make([]byte, size)
	in := make([]byte, 1<<20)
	h := make(pdu.BHS, pdu.BHSLen)
	var o, d pdu.Out
	p := c.params
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o.Reset()
		q := o.BHS()
		q.SetOpcode(pdu.OpSCSICommand)
		q.SetFinal(true)
		q.SetAttr(1)
		q.SetITT(uint32(i))
		q.SetEDTL(uint32(size))
		q.SetCmdSN(c.cmdSN)
		c.cmdSN++
		q.SetExpStatSN(c.statSN)
		copy(q.CDB(), cdb)
		imm := 0
		if write {
			q.SetWrite(true)
			imm = min(size, int(p.FirstBurstLength), int(p.PeerMaxRecvDataSegmentLength))
			o.Data = data[:imm]
		} else {
			q.SetRead(true)
		}
		c.w.Queue(&o)
		if err := c.w.Flush(); err != nil {
			b.Fatal(err)
		}
		for done := false; !done; {
			if _, err := c.r.ReadHeader(h); err != nil {
				b.Fatal(err)
			}
			n := h.DataSegmentLength()
			switch h.Opcode() {
			case pdu.OpDataIn:
				if err := c.r.ReadData(in[:n]); err != nil {
					b.Fatal(err)
				}
				done = h.Flags()&pdu.DataInStatus != 0
			case pdu.OpR2T:
				off, want := h.BufferOffset(), h.DesiredLength()
				var sn uint32
				for sent := uint32(0); sent < want; sn++ {
					k := min(want-sent, p.PeerMaxRecvDataSegmentLength)
					d.Reset()
					dh := d.BHS()
					dh.SetOpcode(pdu.OpDataOut)
					dh.SetITT(h.ITT())
					dh.SetTTT(h.TTT())
					dh.SetDataSN(sn)
					dh.SetBufferOffset(off + sent)
					sent += k
					dh.SetFinal(sent == want)
					d.Data = data[off+sent-k : off+sent]
					c.w.Queue(&d)
					if err := c.w.Flush(); err != nil {
						b.Fatal(err)
					}
				}
			case pdu.OpSCSIResponse:
				if h.Status() != 0 {
					b.Fatalf("status %#x", h.Status())
				}
				done = true
				if err := c.r.DiscardData(); err != nil {
					b.Fatal(err)
				}
			default:
				if err := c.r.DiscardData(); err != nil {
					b.Fatal(err)
				}
			}
			c.statSN = h.StatSN() + 1
		}
	}
}

// TestHotPathAllocations proves READ and WRITE commands cost the target no allocations in steady state.
func TestHotPathAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("short mode or race detector (allocation counts are meaningless there)")
	}
	for _, tc := range []struct {
		name  string
		write bool
		size  int
	}{{"read4k", false, 4096}, {"write4k", true, 4096}, {"read1m", false, 1 << 20}, {"write1m", true, 1 << 20}} {
		r := testing.Benchmark(func(b *testing.B) { benchLoop(b, tc.write, tc.size) })
		if r.N == 0 {
			t.Fatalf("%s: benchmark did not run", tc.name)
		}
		if a := r.AllocsPerOp(); a != 0 {
			t.Errorf("%s: %d allocations per command, want 0 (%s)", tc.name, a, r.MemString())
		}
	}
}
