//go:build linux

package lossinject

import (
	"os"
	"testing"

	"github.com/cilium/ebpf"
)

func TestProgramDropRate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads a BPF program")
	}
	for _, rate := range []float64{0, 0.01, 0.05, 0.5, 1} {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
		if err != nil {
			t.Fatal(err)
		}
		p, err := Program(rate, m)
		if err != nil {
			t.Fatal(err)
		}
		pkt := make([]byte, 64)
		const n = 20000
		drops := 0
		for i := 0; i < n; i++ {
			ret, err := p.Run(&ebpf.RunOptions{Data: pkt})
			if err != nil {
				t.Skipf("BPF_PROG_TEST_RUN unavailable: %v", err)
			}
			if ret == 4 {
				drops++
			}
		}
		var counted uint64
		m.Lookup(uint32(0), &counted)
		got := float64(drops) / n
		if got < rate*0.8-0.002 || got > rate*1.2+0.002 || counted != uint64(drops) {
			t.Errorf("rate %v: dropped %v (counted %d of %d)", rate, got, counted, drops)
		}
		p.Close()
		m.Close()
	}
}

func TestProgramRejectsBadRate(t *testing.T) {
	if _, err := Program(1.5, nil); err == nil {
		t.Fatal("rate 1.5 accepted")
	}
}
