//go:build linux

// Package lossinject drops packets at random on an interface with a tc cls_bpf program
// (bpf_get_prandom_u32), for loss tests where netem is unavailable. The program is assembled
// in Go with cilium/ebpf's asm package; no compiler or committed object is needed. It is a test
// helper: Attach and Close must run in the interface's network namespace.
package lossinject

import (
	"errors"
	"fmt"
	"math"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Program returns a direct-action cls_bpf program that drops a packet with probability rate
// (0..1) and counts drops in slot 0 of counter.
// Dropped packets are consumed silently (TC_ACT_STOLEN).
func Program(rate float64, counter *ebpf.Map) (*ebpf.Program, error) {
	if rate < 0 || rate > 1 || math.IsNaN(rate) {
		return nil, fmt.Errorf("lossinject: rate %v out of range", rate)
	}
	thr := uint64(rate * (1 << 32))
	insns := asm.Instructions{
		asm.FnGetPrandomU32.Call(),
		asm.LoadImm(asm.R1, int64(thr), asm.DWord),
		asm.JGE.Reg(asm.R0, asm.R1, "pass"),
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.LoadMapPtr(asm.R1, counter.FD()),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "drop"),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		// TC_ACT_STOLEN, not TC_ACT_SHOT: on egress a shot packet is reported to the local
		// sender as a qdisc drop (TCP just resends it), a stolen one is silently lost.
		asm.Mov.Imm(asm.R0, 4).WithSymbol("drop"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("pass"), // TC_ACT_OK
		asm.Return(),
	}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "xtgt_loss", Type: ebpf.SchedCLS, Instructions: insns, License: "GPL"})
	if err != nil {
		return nil, fmt.Errorf("lossinject: load program: %w", err)
	}
	return p, nil
}

// Injector is loss attached to one interface.
type Injector struct {
	link       netlink.Link
	ownQdisc   bool
	filters    []*netlink.BpfFilter
	progs      []*ebpf.Program
	ingressCnt *ebpf.Map
	egressCnt  *ebpf.Map
}

// Attach drops ingress and egress packets on ifname with the given probabilities (0 skips a
// direction). It adds a clsact qdisc if none exists; Close removes only what Attach added.
func Attach(ifname string, ingress, egress float64) (_ *Injector, err error) {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("lossinject: %w", err)
	}
	inj := &Injector{link: l}
	defer func() {
		if err != nil {
			inj.Close()
		}
	}()
	q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index,
		Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}
	if err := netlink.QdiscAdd(q); err == nil {
		inj.ownQdisc = true
	} else if !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("lossinject: add clsact: %w", err)
	}
	for _, d := range []struct {
		rate   float64
		parent uint32
		cnt    **ebpf.Map
	}{{ingress, netlink.HANDLE_MIN_INGRESS, &inj.ingressCnt}, {egress, netlink.HANDLE_MIN_EGRESS, &inj.egressCnt}} {
		if d.rate <= 0 {
			continue
		}
		m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
		if err != nil {
			return nil, fmt.Errorf("lossinject: counter map: %w", err)
		}
		*d.cnt = m
		p, err := Program(d.rate, m)
		if err != nil {
			return nil, err
		}
		inj.progs = append(inj.progs, p)
		f := &netlink.BpfFilter{
			FilterAttrs: netlink.FilterAttrs{LinkIndex: l.Attrs().Index, Parent: d.parent, Handle: 1,
				Protocol: unix.ETH_P_ALL, Priority: 1},
			Fd: p.FD(), Name: "xtgt_loss", DirectAction: true,
		}
		if err := netlink.FilterAdd(f); err != nil {
			return nil, fmt.Errorf("lossinject: add filter: %w", err)
		}
		inj.filters = append(inj.filters, f)
	}
	return inj, nil
}

func count(m *ebpf.Map) uint64 {
	if m == nil {
		return 0
	}
	var v uint64
	if err := m.Lookup(uint32(0), &v); err != nil {
		return 0
	}
	return v
}

// Drops returns the packets dropped so far per direction.
func (i *Injector) Drops() (ingress, egress uint64) { return count(i.ingressCnt), count(i.egressCnt) }

// Close detaches the filters (and the qdisc if Attach created it) and frees the programs.
func (i *Injector) Close() error {
	var first error
	for _, f := range i.filters {
		if err := netlink.FilterDel(f); err != nil && first == nil {
			first = fmt.Errorf("lossinject: delete filter: %w", err)
		}
	}
	i.filters = nil
	if i.ownQdisc {
		q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: i.link.Attrs().Index,
			Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}
		if err := netlink.QdiscDel(q); err != nil && first == nil {
			first = fmt.Errorf("lossinject: delete clsact: %w", err)
		}
		i.ownQdisc = false
	}
	for _, p := range i.progs {
		p.Close()
	}
	i.progs = nil
	if i.ingressCnt != nil {
		i.ingressCnt.Close()
	}
	if i.egressCnt != nil {
		i.egressCnt.Close()
	}
	return first
}
