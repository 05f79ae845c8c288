package bpf

import (
	"errors"
	"net/netip"
	"os"
	"testing"

	"github.com/cilium/ebpf"
)

const (
	xdpPass     = 2
	xdpRedirect = 4
)

// loadForTest loads the classifier without attaching it, or skips.
func loadForTest(tb testing.TB) *Steering {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: loads an XDP program (CAP_BPF)")
	}
	var objs steerObjects
	if err := loadSteerObjects(&objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			tb.Fatalf("verifier: %+v", ve)
		}
		tb.Skipf("cannot load BPF programs here: %v", err)
	}
	s := &Steering{prog: objs.XtgtSteer, rules: objs.Rules, verdicts: objs.Verdicts, xsks: objs.Xsks, queues: objs.Queues}
	tb.Cleanup(func() { s.Close() })
	return s
}

var testRules = []Rule{
	{Addr: netip.MustParseAddr("10.0.0.1"), Port: 3260},
	{Port: 860}, // any address
	{Addr: netip.MustParseAddr("fd00::1"), Port: 3260},
}

func TestClassifierFrames(t *testing.T) {
	s := loadForTest(t)
	for _, r := range testRules {
		if err := s.AddRule(r); err != nil {
			t.Fatal(err)
		}
	}
	tcp4 := func(dst string, port uint16) []byte {
		return cat(eth(0x0800), v4{dst: dst, proto: 6, payload: tcp(port, 0, 10)}.bytes())
	}
	arp := cat(eth(0x0806), make([]byte, 28))
	icmp := cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 1, payload: make([]byte, 16)}.bytes())
	opts := []byte{1, 1, 1, 1, 0x44, 4, 5, 0} // NOPs, timestamp-ish: 8 bytes -> IHL 7
	tests := []struct {
		name    string
		frame   []byte
		verdict int
		rule    int // index into testRules, -1 none
	}{
		{"ipv4 exact rule", tcp4("10.0.0.1", 3260), verdictNoSocket, 0},
		{"ipv4 other address same port", tcp4("10.0.0.9", 3260), verdictPassed, -1},
		{"ipv4 wildcard rule", tcp4("10.0.0.9", 860), verdictNoSocket, 1},
		{"ipv4 other port", tcp4("10.0.0.1", 22), verdictPassed, -1},
		{"ipv4 options", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, options: opts, payload: tcp(3260, 0, 0)}.bytes()), verdictNoSocket, 0},
		{"tcp options", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, payload: tcp(3260, 8, 0)}.bytes()), verdictNoSocket, 0},
		{"802.1Q", cat(eth(0x0800, 0x8100), v4{dst: "10.0.0.1", proto: 6, payload: tcp(3260, 0, 0)}.bytes()), verdictNoSocket, 0},
		{"802.1ad QinQ", cat(eth(0x0800, 0x88a8, 0x8100), v4{dst: "10.0.0.1", proto: 6, payload: tcp(3260, 0, 0)}.bytes()), verdictNoSocket, 0},
		{"three VLAN tags", cat(eth(0x0800, 0x88a8, 0x8100, 0x8100), v4{dst: "10.0.0.1", proto: 6, payload: tcp(3260, 0, 0)}.bytes()), verdictMalformed, -1},
		{"truncated VLAN tag", cat(eth(0x8100), []byte{0, 100}), verdictMalformed, -1},
		{"truncated IPv4", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, truncate: 12}.bytes()), verdictMalformed, -1},
		{"IHL 4", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, ihl: 4, payload: tcp(3260, 0, 0)}.bytes()), verdictMalformed, -1},
		{"IHL beyond frame", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, ihl: 15, payload: tcp(3260, 0, 0)[:20]}.bytes()[:34]), verdictMalformed, -1},
		{"IHL 15 with room", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, ihl: 15, totLen: 40, payload: make([]byte, 40)}.bytes()), verdictMalformed, -1},
		{"total length below header", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, totLen: 19, payload: tcp(3260, 0, 0)}.bytes()), verdictMalformed, -1},
		{"version 6 in IPv4 frame", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, version: 6, payload: tcp(3260, 0, 0)}.bytes()), verdictMalformed, -1},
		{"truncated TCP", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, payload: tcp(3260, 0, 0)[:12]}.bytes()), verdictMalformed, -1},
		{"TCP data offset 4", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, payload: tcp(3260, 4, 0)}.bytes()), verdictMalformed, -1},
		{"TCP data offset beyond frame", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, payload: tcp(3260, 15, 0)[:24]}.bytes()), verdictMalformed, -1},
		{"first fragment", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, fragOff: 0x2000, payload: tcp(3260, 0, 0)}.bytes()), verdictPassed, -1},
		{"later fragment", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, fragOff: 0x0010, payload: tcp(3260, 0, 0)}.bytes()), verdictPassed, -1},
		{"don't fragment set", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, fragOff: 0x4000, payload: tcp(3260, 0, 0)}.bytes()), verdictNoSocket, 0},
		{"UDP to steered port", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 17, payload: tcp(3260, 0, 0)}.bytes()), verdictPassed, -1},
		{"ICMP", icmp, verdictPassed, -1},
		{"ARP", arp, verdictPassed, -1},
		{"ipv6 exact rule", cat(eth(0x86dd), v6("fd00::1", 6, tcp(3260, 0, 5))), verdictNoSocket, 2},
		{"ipv6 wildcard rule", cat(eth(0x86dd), v6("fd00::9", 6, tcp(860, 0, 5))), verdictNoSocket, 1},
		{"ipv6 vlan", cat(eth(0x86dd, 0x8100), v6("fd00::1", 6, tcp(3260, 0, 5))), verdictNoSocket, 2},
		{"ipv6 extension header", cat(eth(0x86dd), v6("fd00::1", 0, tcp(3260, 0, 5))), verdictPassed, -1},
		{"ipv6 v4-mapped destination", cat(eth(0x86dd), v6("::ffff:10.0.0.1", 6, tcp(3260, 0, 5))), verdictPassed, -1},
		{"truncated ipv6", cat(eth(0x86dd), v6("fd00::1", 6, nil)[:30]), verdictMalformed, -1},
		{"truncated tcp over ipv6", cat(eth(0x86dd), v6("fd00::1", 6, tcp(3260, 0, 0)[:8])), verdictMalformed, -1},
		{"bare ethernet", eth(0x0800), verdictMalformed, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refV, refR := refVerdict(tc.frame, testRules)
			if refV != tc.verdict || refR != tc.rule {
				t.Fatalf("reference model says verdict %d rule %d, table %d %d", refV, refR, tc.verdict, tc.rule)
			}
			checkRun(t, s, tc.frame, tc.verdict, tc.rule)
		})
	}
}

// checkRun runs frame through the classifier and checks the action and
// which counters moved.
func checkRun(t testing.TB, s *Steering, frame []byte, verdict, rule int) {
	t.Helper()
	before, err := s.Verdicts()
	if err != nil {
		t.Fatal(err)
	}
	rb, err := s.Rules()
	if err != nil {
		t.Fatal(err)
	}
	ret, err := s.prog.Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if ret != xdpPass {
		t.Errorf("action %d, want XDP_PASS (no socket registered)", ret)
	}
	after, err := s.Verdicts()
	if err != nil {
		t.Fatal(err)
	}
	delta := [verdictMax]uint64{
		after.Passed - before.Passed, after.Redirected - before.Redirected,
		after.NoSocket - before.NoSocket, after.Malformed - before.Malformed,
	}
	var want [verdictMax]uint64
	want[verdict] = 1
	if delta != want {
		t.Errorf("verdict deltas %v, want %v", delta, want)
	}
	ra, err := s.Rules()
	if err != nil {
		t.Fatal(err)
	}
	for i := range ra {
		dp := ra[i].Packets - rb[i].Packets
		db := ra[i].Bytes - rb[i].Bytes
		hit := rule >= 0 && ra[i].Rule == testRules[rule]
		switch {
		case hit && (dp != 1 || db != uint64(len(frame))):
			t.Errorf("rule %s: +%d packets +%d bytes, want +1 +%d", ra[i].Rule, dp, db, len(frame))
		case !hit && dp != 0:
			t.Errorf("rule %s counted %d packets, want 0", ra[i].Rule, dp)
		}
	}
}

func TestRuleAddDel(t *testing.T) {
	s := loadForTest(t)
	r := Rule{Addr: netip.MustParseAddr("10.0.0.1"), Port: 3260}
	if err := s.AddRule(r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.prog.Run(&ebpf.RunOptions{Data: cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, payload: tcp(3260, 0, 0)}.bytes())}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRule(r); err != nil { // idempotent, keeps counters
		t.Fatal(err)
	}
	rs, err := s.Rules()
	if err != nil || len(rs) != 1 || rs[0].Packets != 1 || rs[0].Rule != r {
		t.Fatalf("rules %+v err %v, want one rule with 1 packet", rs, err)
	}
	if err := s.DelRule(r); err != nil {
		t.Fatal(err)
	}
	if err := s.DelRule(r); !errors.Is(err, ErrNoRule) {
		t.Fatalf("second delete: %v, want ErrNoRule", err)
	}
	if err := s.AddRule(Rule{Port: 0}); err == nil {
		t.Fatal("port 0 accepted")
	}
}

func TestParseAddrAndRuleKey(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{
		{"any", "any:3260", false}, {"0.0.0.0", "any:3260", false}, {"::", "any:3260", false},
		{"10.0.0.1", "10.0.0.1:3260", false}, {"::ffff:10.0.0.1", "10.0.0.1:3260", false},
		{"fd00::1", "[fd00::1]:3260", false}, {"fe80::1%eth0", "[fe80::1]:3260", false},
		{"10.0.0", "", true}, {"host", "", true},
	} {
		a, err := ParseAddr(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseAddr(%q) err %v", tc.in, err)
			continue
		}
		if err != nil {
			continue
		}
		r := Rule{Addr: a, Port: 3260}
		k, err := r.key()
		if err != nil {
			t.Fatal(err)
		}
		if back := ruleFromKey(k); back != r || back.String() != tc.want {
			t.Errorf("%q: round trip %v (%s), want %s", tc.in, back, back, tc.want)
		}
	}
}

// FuzzClassifier checks the classifier against the Go reference model on
// arbitrary frames: it must never redirect what the model does not match,
// and must count the same verdict.
func FuzzClassifier(f *testing.F) {
	f.Add(cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, payload: tcp(3260, 0, 4)}.bytes()))
	f.Add(cat(eth(0x0800, 0x8100), v4{dst: "10.0.0.9", proto: 6, payload: tcp(860, 0, 0)}.bytes()))
	f.Add(cat(eth(0x86dd, 0x88a8, 0x8100), v6("fd00::1", 6, tcp(3260, 0, 0))))
	f.Add(cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, ihl: 15, payload: tcp(3260, 0, 0)}.bytes()))
	f.Add(cat(eth(0x0806), make([]byte, 28)))
	f.Add(cat(eth(0x8100), []byte{0, 1, 0x81, 0}))
	s := loadForTest(f)
	for _, r := range testRules {
		if err := s.AddRule(r); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 14 || len(frame) > 1500 {
			return // the kernel's test run refuses these
		}
		v, r := refVerdict(frame, testRules)
		checkRun(t, s, frame, v, r)
	})
}

func BenchmarkClassifier(b *testing.B) {
	s := loadForTest(b)
	for _, r := range testRules {
		if err := s.AddRule(r); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"steered-ipv4", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, payload: tcp(3260, 0, 1000)}.bytes())},
		{"passed-ipv4-other-port", cat(eth(0x0800), v4{dst: "10.0.0.1", proto: 6, payload: tcp(22, 0, 1000)}.bytes())},
		{"steered-ipv6-qinq", cat(eth(0x86dd, 0x88a8, 0x8100), v6("fd00::1", 6, tcp(3260, 0, 1000)))},
		{"arp", cat(eth(0x0806), make([]byte, 28))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// The kernel loops b.N times itself and reports the mean.
			_, per, err := s.prog.Benchmark(bc.frame, b.N, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(per.Nanoseconds()), "ns/pkt")
		})
	}
}
