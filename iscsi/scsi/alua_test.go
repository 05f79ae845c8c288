package scsi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// Nexuses through the ports of groups 1, 2 and 3 (TPGT = group tag).
var (
	nexusP1 = Nexus{InitiatorName: "iqn.2024-01.test:mp", ISID: 7, TargetName: "iqn.2024-01.test:tgt", TPGT: 1}
	nexusP2 = Nexus{InitiatorName: "iqn.2024-01.test:mp", ISID: 7, TargetName: "iqn.2024-01.test:tgt", TPGT: 2}
	nexusP3 = Nexus{InitiatorName: "iqn.2024-01.test:mp", ISID: 7, TargetName: "iqn.2024-01.test:tgt", TPGT: 3}
)

func reportTPG(format byte, alloc uint32) []byte {
	b := cdb(opMaintenanceIn, 12)
	b[1] = format<<5 | saReportTPG
	binary.BigEndian.PutUint32(b[6:], alloc)
	return b
}

func setTPG(n uint32) []byte {
	b := cdb(opMaintenanceOut, 12)
	b[1] = saSetTPG
	binary.BigEndian.PutUint32(b[6:], n)
	return b
}

// stpgList builds SET TARGET PORT GROUPS parameter data.
func stpgList(descs ...[2]uint16) []byte {
	b := make([]byte, 4)
	for _, d := range descs {
		b = append(b, byte(d[1]), 0, byte(d[0]>>8), byte(d[0]))
	}
	return b
}

// aluaTarget returns a target with groups 1 (active/optimized), 2
// (active/non-optimized) and 3 (standby), with the power-on attentions of
// the three port nexuses consumed.
func aluaTarget(t *testing.T) *Target {
	t.Helper()
	tg, _ := newTarget(t, LUConfig{})
	if err := tg.SetPortGroups([]PortGroup{{Tag: 2, State: ActiveNonOptimized}, {Tag: 1}, {Tag: 3, State: Standby}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []Nexus{nexusP1, nexusP2, nexusP3} {
		wantSense(t, tur(t, tg, n, 0), KeyUnitAttention, ASCPowerOnResetOccurred)
	}
	return tg
}

type tpgDesc struct {
	state  AccessState
	tag    uint16
	status byte
	rel    uint16
}

// parseTPG decodes REPORT TARGET PORT GROUPS data, checking its framing.
func parseTPG(t *testing.T, d []byte, ext bool) []tpgDesc {
	t.Helper()
	if int(binary.BigEndian.Uint32(d))+4 != len(d) {
		t.Fatalf("return data length %d, have %d", binary.BigEndian.Uint32(d), len(d))
	}
	p := 4
	if ext {
		if d[4] != 0x10 {
			t.Fatalf("extended header % x", d[4:8])
		}
		p = 8
	}
	var out []tpgDesc
	for p < len(d) {
		if p+8 > len(d) || d[p+7] != 1 || p+12 > len(d) {
			t.Fatalf("descriptor at %d: % x", p, d[p:])
		}
		if d[p+1] != tpgSupported {
			t.Errorf("supported states %#x", d[p+1])
		}
		out = append(out, tpgDesc{AccessState(d[p] & 0x0F), binary.BigEndian.Uint16(d[p+2:]), d[p+5],
			binary.BigEndian.Uint16(d[p+10:])})
		p += 12
	}
	return out
}

func TestReportTargetPortGroups(t *testing.T) {
	tg := aluaTarget(t)
	all := []tpgDesc{{ActiveOptimized, 1, 0, 1}, {ActiveNonOptimized, 2, 0, 2}, {Standby, 3, 0, 3}}
	for _, tc := range []struct {
		name   string
		n      Nexus
		format byte
		want   []tpgDesc
	}{
		{"length only", nexusP1, 0, all},
		{"extended", nexusP2, 1, all},
		{"standby port", nexusP3, 1, all},
		{"port of no group", Nexus{InitiatorName: "x", TargetName: "t", TPGT: 9}, 0,
			append(all[:3:3], tpgDesc{ActiveOptimized, 9, 0, 9})},
		{"no TPGT is port 1", Nexus{InitiatorName: "x", TargetName: "t"}, 0, all},
	} {
		c := run(tg, tc.n, 0, reportTPG(tc.format, 1024), nil, 1024)
		if c.Status == CheckCondition {
			c = run(tg, tc.n, 0, reportTPG(tc.format, 1024), nil, 1024) // first contact: power-on UA
		}
		wantGood(t, c)
		got := parseTPG(t, c.DataIn[:c.InLen], tc.format == 1)
		if len(got) != len(tc.want) {
			t.Fatalf("%s: got %+v", tc.name, got)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: descriptor %d = %+v, want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
	// Allocation length truncates but RETURN DATA LENGTH stays the full one.
	c := run(tg, nexusP1, 0, reportTPG(0, 10), nil, 64)
	wantGood(t, c)
	if c.InLen != 10 || binary.BigEndian.Uint32(c.DataIn) != 36 {
		t.Errorf("truncated: len %d data % x", c.InLen, c.DataIn[:c.InLen])
	}
	s := wantSense(t, run(tg, nexusP1, 0, reportTPG(2, 64), nil, 64), KeyIllegalRequest, ASCInvalidFieldInCDB)
	if s.SKS != FieldPointer(true, 1, 7) {
		t.Errorf("field pointer % x", s.SKS)
	}
	// Default target: one active/optimized group, tag 1.
	tg2, _ := newTarget(t, LUConfig{})
	c = run(tg2, nexusA, 0, reportTPG(1, 64), nil, 64)
	wantGood(t, c)
	if got := parseTPG(t, c.DataIn[:c.InLen], true); len(got) != 1 || got[0] != (tpgDesc{ActiveOptimized, 1, 0, 1}) {
		t.Errorf("default groups %+v", got)
	}
}

// designators returns VPD page 83h's designators by association|type.
func designators(t *testing.T, tg *Target, n Nexus) map[byte][]byte {
	t.Helper()
	c := run(tg, n, 0, inquiry(true, vpdDeviceID, 512), nil, 512)
	wantGood(t, c)
	d := c.DataIn[4:c.InLen]
	out := map[byte][]byte{}
	for len(d) >= 4 {
		l := int(d[3])
		if 4+l > len(d) {
			t.Fatal("designator overruns page")
		}
		out[d[1]&0x3F] = d[4 : 4+l]
		d = d[4+l:]
	}
	return out
}

func TestDeviceIDPerPort(t *testing.T) {
	tg := aluaTarget(t)
	lu1 := designators(t, tg, nexusP1)
	for _, tc := range []struct {
		n    Nexus
		port []byte
		name string
	}{
		{nexusP1, []byte{0, 0, 0, 1}, "iqn.2024-01.test:tgt,t,0x0001"},
		{nexusP2, []byte{0, 0, 0, 2}, "iqn.2024-01.test:tgt,t,0x0002"},
		{nexusP3, []byte{0, 0, 0, 3}, "iqn.2024-01.test:tgt,t,0x0003"},
	} {
		d := designators(t, tg, tc.n)
		if !bytes.Equal(d[0x14], tc.port) || !bytes.Equal(d[0x15], tc.port) {
			t.Errorf("TPGT %d: relative port % x, group % x", tc.n.TPGT, d[0x14], d[0x15])
		}
		if string(bytes.TrimRight(d[0x18], "\x00")) != tc.name {
			t.Errorf("TPGT %d: port name %q", tc.n.TPGT, d[0x18])
		}
		// Logical unit designators are the same through every port.
		if !bytes.Equal(d[0x03], lu1[0x03]) || !bytes.Equal(d[0x01], lu1[0x01]) || !bytes.Equal(d[0x28], lu1[0x28]) {
			t.Errorf("TPGT %d: LU designators differ", tc.n.TPGT)
		}
	}
}

func TestALUAStateGating(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{})
	if err := tg.SetPortGroups([]PortGroup{{Tag: 1}, {Tag: 2}}); err != nil {
		t.Fatal(err)
	}
	wantSense(t, tur(t, tg, nexusP1, 0), KeyUnitAttention, ASCPowerOnResetOccurred)
	wantSense(t, tur(t, tg, nexusP2, 0), KeyUnitAttention, ASCPowerOnResetOccurred)
	modeSense := cdb(opModeSense6, 6)
	modeSense[2], modeSense[4] = 0x3F, 255
	prIn := prinCDB(prinReadKeys, 64)
	rsocAll := cdb(opMaintenanceIn, 12)
	rsocAll[1], rsocAll[9] = saReportOpcodes, 255
	const good = ASC(0xFFFF)
	cmds := []struct {
		name string
		cdb  []byte
		in   int
		// want is the ASC for standby, unavailable and transitioning (good: GOOD status).
		want [3]ASC
	}{
		{"TEST UNIT READY", cdb(opTestUnitReady, 6), 0,
			[3]ASC{ASCLUNotAccessibleStandby, ASCLUNotAccessibleUnavailable, ASCLUNotAccessibleTransition}},
		{"READ(10)", rw10(opRead10, 0, 1), 512,
			[3]ASC{ASCLUNotAccessibleStandby, ASCLUNotAccessibleUnavailable, ASCLUNotAccessibleTransition}},
		{"READ CAPACITY(10)", cdb(opReadCapacity10, 10), 8,
			[3]ASC{ASCLUNotAccessibleStandby, ASCLUNotAccessibleUnavailable, ASCLUNotAccessibleTransition}},
		{"MODE SENSE(6)", modeSense, 255, [3]ASC{good, ASCLUNotAccessibleUnavailable, ASCLUNotAccessibleTransition}},
		{"PERSISTENT RESERVE IN", prIn, 64, [3]ASC{good, ASCLUNotAccessibleUnavailable, ASCLUNotAccessibleTransition}},
		{"INQUIRY", inquiry(false, 0, 96), 96, [3]ASC{good, good, good}},
		{"REPORT LUNS", func() []byte { b := cdb(opReportLUNs, 12); b[9] = 64; return b }(), 64, [3]ASC{good, good, good}},
		{"REQUEST SENSE", func() []byte { b := cdb(opRequestSense, 6); b[4] = 18; return b }(), 18, [3]ASC{good, good, good}},
		{"REPORT TARGET PORT GROUPS", reportTPG(0, 64), 64, [3]ASC{good, good, good}},
		{"REPORT SUPPORTED OPERATION CODES", rsocAll, 255, [3]ASC{good, good, good}},
		{"SET TARGET PORT GROUPS (empty)", setTPG(0), 0,
			[3]ASC{good, good, ASCLUNotAccessibleTransition}},
	}
	for si, st := range []AccessState{Standby, Unavailable, Transitioning} {
		if err := tg.SetPortGroupState(2, st); err != nil {
			t.Fatal(err)
		}
		for _, n := range []Nexus{nexusP1, nexusP2} {
			wantSense(t, tur(t, tg, n, 0), KeyUnitAttention, ASCAsymmetricAccessChanged)
		}
		for _, cm := range cmds {
			// Through the active port every command runs.
			if c := run(tg, nexusP1, 0, cm.cdb, nil, cm.in); c.Status != Good {
				t.Errorf("%v: %s through the active port: status %#x sense % x", st, cm.name, c.Status, c.Sense)
			}
			c := run(tg, nexusP2, 0, cm.cdb, nil, cm.in)
			if cm.want[si] == good {
				if c.Status != Good {
					t.Errorf("%v: %s: status %#x sense % x", st, cm.name, c.Status, c.Sense)
				}
				continue
			}
			s, err := ParseSense(c.Sense)
			if c.Status != CheckCondition || err != nil || s.Key != KeyNotReady || s.ASC != cm.want[si] {
				t.Errorf("%v: %s: status %#x sense %+v, want NOT READY %#04x", st, cm.name, c.Status, s, cm.want[si])
			}
		}
	}
	// Active/non-optimized serves I/O.
	if err := tg.SetPortGroupState(2, ActiveNonOptimized); err != nil {
		t.Fatal(err)
	}
	wantSense(t, tur(t, tg, nexusP2, 0), KeyUnitAttention, ASCAsymmetricAccessChanged)
	wantGood(t, run(tg, nexusP2, 0, rw10(opWrite10, 0, 1), make([]byte, 512), 0))
	wantGood(t, run(tg, nexusP2, 0, rw10(opRead10, 0, 1), nil, 512))
}

func TestSetTargetPortGroups(t *testing.T) {
	tg := aluaTarget(t)
	state := func(n Nexus) map[uint16]tpgDesc {
		t.Helper()
		c := run(tg, n, 0, reportTPG(0, 256), nil, 256)
		wantGood(t, c)
		out := map[uint16]tpgDesc{}
		for _, d := range parseTPG(t, c.DataIn[:c.InLen], false) {
			out[d.tag] = d
		}
		return out
	}
	// Through port 3 (standby): make 3 active/optimized and 1 standby.
	list := stpgList([2]uint16{3, uint16(ActiveOptimized)}, [2]uint16{1, uint16(Standby)})
	wantGood(t, run(tg, nexusP3, 0, setTPG(uint32(len(list))), list, 0))
	// The requester sees no unit attention; the other nexuses do, once.
	wantGood(t, tur(t, tg, nexusP3, 0))
	wantSense(t, tur(t, tg, nexusP2, 0), KeyUnitAttention, ASCAsymmetricAccessChanged)
	wantGood(t, tur(t, tg, nexusP2, 0))
	wantSense(t, tur(t, tg, nexusP1, 0), KeyUnitAttention, ASCAsymmetricAccessChanged)
	wantSense(t, tur(t, tg, nexusP1, 0), KeyNotReady, ASCLUNotAccessibleStandby)
	got := state(nexusP3)
	for tag, want := range map[uint16]tpgDesc{
		1: {Standby, 1, tpgStatusExplicit, 1},
		2: {ActiveNonOptimized, 2, tpgStatusNone, 2},
		3: {ActiveOptimized, 3, tpgStatusExplicit, 3},
	} {
		if got[tag] != want {
			t.Errorf("group %d: %+v, want %+v", tag, got[tag], want)
		}
	}
	if pg := tg.PortGroups(); len(pg) != 3 || pg[0] != (PortGroup{1, Standby}) || pg[2] != (PortGroup{3, ActiveOptimized}) {
		t.Errorf("PortGroups %+v", pg)
	}
	// Setting the current states changes nothing and raises no attention.
	wantGood(t, run(tg, nexusP3, 0, setTPG(uint32(len(list))), list, 0))
	wantGood(t, tur(t, tg, nexusP2, 0))

	for _, tc := range []struct {
		name string
		cdb  []byte
		data []byte
		asc  ASC
		sks  [3]byte
	}{
		{"transitioning is not selectable", setTPG(8), stpgList([2]uint16{2, uint16(Transitioning)}),
			ASCInvalidFieldInParamList, FieldPointer(false, 4, 3)},
		{"unknown group", setTPG(12), stpgList([2]uint16{2, 0}, [2]uint16{7, 0}),
			ASCInvalidFieldInParamList, FieldPointer(false, 10, 7)},
		{"ragged list", setTPG(6), stpgList([2]uint16{2, 0}), ASCParamListLengthError, [3]byte{}},
		{"short data", setTPG(12), stpgList([2]uint16{2, 0}), ASCParamListLengthError, [3]byte{}},
	} {
		s := wantSense(t, run(tg, nexusP3, 0, tc.cdb, tc.data, 0), KeyIllegalRequest, tc.asc)
		if s.SKS != tc.sks {
			t.Errorf("%s: field pointer % x, want % x", tc.name, s.SKS, tc.sks)
		}
	}
	// A rejected list changes nothing, in part or whole.
	if got := state(nexusP3); got[2].state != ActiveNonOptimized {
		t.Errorf("group 2 changed by a rejected list: %+v", got[2])
	}
	wantGood(t, tur(t, tg, nexusP2, 0))
}

func TestPortGroupsAPI(t *testing.T) {
	tg := aluaTarget(t)
	for _, tc := range []struct {
		name   string
		groups []PortGroup
	}{
		{"none", nil},
		{"tag 0", []PortGroup{{Tag: 0}}},
		{"duplicate", []PortGroup{{Tag: 1}, {Tag: 1, State: Standby}}},
		{"bad state", []PortGroup{{Tag: 1, State: 7}}},
	} {
		if err := tg.SetPortGroups(tc.groups); !errors.Is(err, ErrBadPortGroup) {
			t.Errorf("%s: err %v", tc.name, err)
		}
	}
	if err := tg.SetPortGroupState(9, Standby); !errors.Is(err, ErrBadPortGroup) {
		t.Errorf("unknown group: %v", err)
	}
	if err := tg.SetPortGroupState(1, 5); !errors.Is(err, ErrBadPortGroup) {
		t.Errorf("bad state: %v", err)
	}
	// Re-configuring with an unchanged state raises nothing; a changed one raises the attention everywhere.
	if err := tg.SetPortGroups([]PortGroup{{Tag: 1}, {Tag: 2, State: ActiveNonOptimized}, {Tag: 3, State: Standby}}); err != nil {
		t.Fatal(err)
	}
	wantGood(t, tur(t, tg, nexusP1, 0))
	if err := tg.SetPortGroups([]PortGroup{{Tag: 1, State: Unavailable}, {Tag: 2}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []Nexus{nexusP1, nexusP2} {
		wantSense(t, tur(t, tg, n, 0), KeyUnitAttention, ASCAsymmetricAccessChanged)
	}
	wantSense(t, tur(t, tg, nexusP1, 0), KeyNotReady, ASCLUNotAccessibleUnavailable)
	// Port 3 is in no group now: it is served as active/optimized.
	wantSense(t, tur(t, tg, nexusP3, 0), KeyUnitAttention, ASCAsymmetricAccessChanged)
	wantGood(t, tur(t, tg, nexusP3, 0))

	for _, tc := range []struct {
		name string
		s    AccessState
	}{
		{"active-optimized", ActiveOptimized}, {"active-non-optimized", ActiveNonOptimized},
		{"standby", Standby}, {"unavailable", Unavailable}, {"transitioning", Transitioning},
	} {
		if got, err := ParseAccessState(tc.name); err != nil || got != tc.s || tc.s.String() != tc.name {
			t.Errorf("%s: parsed %v, %v; String %q", tc.name, got, err, tc.s.String())
		}
	}
	if _, err := ParseAccessState("offline"); !errors.Is(err, ErrBadPortGroup) {
		t.Errorf("offline: %v", err)
	}
}

func TestReportOpcodesListsTPG(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{})
	for _, tc := range []struct{ op, sa byte }{{opMaintenanceIn, saReportTPG}, {opMaintenanceOut, saSetTPG}} {
		b := cdb(opMaintenanceIn, 12)
		b[1], b[2], b[3], b[5], b[9] = saReportOpcodes, 2, tc.op, tc.sa, 64
		c := run(tg, nexusA, 0, b, nil, 64)
		wantGood(t, c)
		u := c.DataIn[:c.InLen]
		if u[1]&7 != 3 || u[4] != tc.op || u[5]&0x1F != tc.sa || len(u) != 4+12 {
			t.Errorf("%#x/%#x: % x", tc.op, tc.sa, u)
		}
	}
	// MAINTENANCE OUT with another service action is not implemented.
	b := setTPG(0)
	b[1] = 0x06
	wantSense(t, run(tg, nexusA, 0, b, nil, 0), KeyIllegalRequest, ASCInvalidOpcode)
}
