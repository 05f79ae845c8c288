package bpf

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"syscall"

	"github.com/cilium/ebpf"
)

// Verdict counter indices, as enum verdict in steer.c.
const (
	verdictPassed = iota
	verdictRedirected
	verdictNoSocket
	verdictMalformed
	verdictMax
)

// Verdicts counts frames by outcome, summed over CPUs.
type Verdicts struct {
	Passed     uint64 `json:"passed"`     // not ours, to the kernel
	Redirected uint64 `json:"redirected"` // to an AF_XDP socket
	NoSocket   uint64 `json:"no_socket"`  // matched, no socket on the queue: passed
	Malformed  uint64 `json:"malformed"`  // inconsistent headers: passed
}

// RuleStats is a rule with its matched-frame counters, summed over CPUs.
type RuleStats struct {
	Rule    Rule   `json:"-"`
	Match   string `json:"rule"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Queue is a receive queue with a registered AF_XDP socket.
type Queue struct {
	ID    int  `json:"queue"`
	PID   int  `json:"pid"`
	Alive bool `json:"alive"` // the registering process still runs
}

// Status describes the steering of one interface.
type Status struct {
	Dev       string      `json:"dev"`
	Ifindex   int         `json:"ifindex"`
	ProgramID uint32      `json:"program_id"`
	Mode      string      `json:"mode"`
	PinDir    string      `json:"pin_dir"`
	Rules     []RuleStats `json:"rules"`
	Verdicts  Verdicts    `json:"verdicts"`
	Queues    []Queue     `json:"queues"`
}

// AddRule adds a steering rule; adding an existing rule keeps its counters.
func (s *Steering) AddRule(r Rule) error {
	k, err := r.key()
	if err != nil {
		return err
	}
	zero := make([]steerRuleStats, ebpf.MustPossibleCPU())
	if err := s.rules.Update(&k, zero, ebpf.UpdateNoExist); err != nil && !errors.Is(err, ebpf.ErrKeyExist) {
		return fmt.Errorf("add rule %s: %w", r, err)
	}
	return nil
}

func (s *Steering) addRules(rs []Rule) error {
	for _, r := range rs {
		if err := s.AddRule(r); err != nil {
			return err
		}
	}
	return nil
}

// DelRule deletes a steering rule; ErrNoRule when there is none.
func (s *Steering) DelRule(r Rule) error {
	k, err := r.key()
	if err != nil {
		return err
	}
	if err := s.rules.Delete(&k); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("delete rule %s: %w", r, ErrNoRule)
		}
		return fmt.Errorf("delete rule %s: %w", r, err)
	}
	return nil
}

// Rules lists the rules with their counters, sorted by port then address.
func (s *Steering) Rules() ([]RuleStats, error) {
	var (
		out []RuleStats
		k   steerRuleKey
		v   []steerRuleStats
	)
	it := s.rules.Iterate()
	for it.Next(&k, &v) {
		rs := RuleStats{Rule: ruleFromKey(k)}
		rs.Match = rs.Rule.String()
		for _, c := range v {
			rs.Packets += c.Packets
			rs.Bytes += c.Bytes
		}
		out = append(out, rs)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rule.Port != out[j].Rule.Port {
			return out[i].Rule.Port < out[j].Rule.Port
		}
		return out[i].Rule.Addr.Less(out[j].Rule.Addr)
	})
	return out, nil
}

// Verdicts returns the verdict counters summed over CPUs.
func (s *Steering) Verdicts() (Verdicts, error) {
	var sums [verdictMax]uint64
	var per []uint64
	for i := range sums {
		if err := s.verdicts.Lookup(uint32(i), &per); err != nil {
			return Verdicts{}, fmt.Errorf("read verdicts: %w", err)
		}
		for _, n := range per {
			sums[i] += n
		}
	}
	return Verdicts{
		Passed: sums[verdictPassed], Redirected: sums[verdictRedirected],
		NoSocket: sums[verdictNoSocket], Malformed: sums[verdictMalformed],
	}, nil
}

// RegisterXSK puts the AF_XDP socket fd into the XSKMAP entry of queue, so
// the classifier redirects that queue's matches to it. The entry goes away
// by itself when the socket is closed.
func (s *Steering) RegisterXSK(queue, fd int) error {
	if queue < 0 || queue >= MaxQueues {
		return fmt.Errorf("register queue %d: %w", queue, ErrBadQueue)
	}
	if err := s.xsks.Put(uint32(queue), uint32(fd)); err != nil {
		return fmt.Errorf("register queue %d: %w", queue, err)
	}
	if err := s.queues.Put(uint32(queue), uint32(os.Getpid())); err != nil {
		return fmt.Errorf("register queue %d: %w", queue, err)
	}
	return nil
}

// UnregisterXSK removes the socket of queue from the XSKMAP.
func (s *Steering) UnregisterXSK(queue int) error {
	if queue < 0 || queue >= MaxQueues {
		return fmt.Errorf("unregister queue %d: %w", queue, ErrBadQueue)
	}
	if err := s.xsks.Delete(uint32(queue)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("unregister queue %d: %w", queue, err)
	}
	if err := s.queues.Put(uint32(queue), uint32(0)); err != nil {
		return fmt.Errorf("unregister queue %d: %w", queue, err)
	}
	return nil
}

// Queues lists the queues on which a socket was registered, with whether the
// registering process is still alive (the kernel removes a closed socket
// from the XSKMAP, but cannot tell us).
func (s *Steering) Queues() ([]Queue, error) {
	var out []Queue
	for q := uint32(0); q < MaxQueues; q++ {
		var pid uint32
		if err := s.queues.Lookup(q, &pid); err != nil {
			return nil, fmt.Errorf("read queues: %w", err)
		}
		if pid == 0 {
			continue
		}
		alive := syscall.Kill(int(pid), 0) == nil
		out = append(out, Queue{ID: int(q), PID: int(pid), Alive: alive})
	}
	return out, nil
}

// Status gathers everything xdpctl status shows.
func (s *Steering) Status() (Status, error) {
	st := Status{Dev: s.ifname, Ifindex: s.ifindex, Mode: s.mode.String(), PinDir: s.dir}
	if pi, err := s.prog.Info(); err == nil {
		if id, ok := pi.ID(); ok {
			st.ProgramID = uint32(id)
		}
	}
	var err error
	if st.Rules, err = s.Rules(); err != nil {
		return st, err
	}
	if st.Verdicts, err = s.Verdicts(); err != nil {
		return st, err
	}
	if st.Queues, err = s.Queues(); err != nil {
		return st, err
	}
	return st, nil
}
