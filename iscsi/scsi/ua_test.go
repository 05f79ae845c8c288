package scsi

import "testing"

func tur(t *testing.T, tg *Target, n Nexus, lun uint64) *Command {
	t.Helper()
	return run(tg, n, lun, cdb(opTestUnitReady, 6), nil, 0)
}

func TestUnitAttentions(t *testing.T) {
	tg, m := newTarget(t, LUConfig{})
	// New nexus: power-on UA once; INQUIRY and REPORT LUNS do not consume it.
	wantGood(t, run(tg, nexusB, 0, inquiry(false, 0, 36), nil, 36))
	wantSense(t, tur(t, tg, nexusB, 0), KeyUnitAttention, ASCPowerOnResetOccurred)
	wantGood(t, tur(t, tg, nexusB, 0))

	// LUN reset from A: every nexus, A included, gets BUS DEVICE RESET FUNCTION OCCURRED.
	tg.Reset(LUNReset, 0, nexusA)
	wantSense(t, tur(t, tg, nexusA, 0), KeyUnitAttention, ASCBusDeviceResetOccurred)
	wantGood(t, tur(t, tg, nexusA, 0))
	wantSense(t, tur(t, tg, nexusB, 0), KeyUnitAttention, ASCBusDeviceResetOccurred)
	wantGood(t, tur(t, tg, nexusB, 0))

	// Warm reset, cold reset.
	tg.Reset(TargetWarmReset, 0, nexusB)
	wantSense(t, tur(t, tg, nexusA, 0), KeyUnitAttention, ASCBusDeviceResetOccurred)
	wantSense(t, tur(t, tg, nexusB, 0), KeyUnitAttention, ASCBusDeviceResetOccurred)
	wantGood(t, tur(t, tg, nexusB, 0))
	tg.Reset(TargetColdReset, 0, nexusB)
	wantSense(t, tur(t, tg, nexusA, 0), KeyUnitAttention, ASCPowerOnOccurred)
	wantSense(t, tur(t, tg, nexusB, 0), KeyUnitAttention, ASCPowerOnOccurred)

	// Clear task set.
	tg.ClearTaskSet(0, nexusA)
	wantGood(t, tur(t, tg, nexusA, 0))
	wantSense(t, tur(t, tg, nexusB, 0), KeyUnitAttention, ASCCommandsClearedByAnother)

	// Capacity change.
	m.b = append(m.b, make([]byte, 512*8)...)
	if err := tg.Resize(0); err != nil {
		t.Fatal(err)
	}
	wantSense(t, tur(t, tg, nexusA, 0), KeyUnitAttention, ASCCapacityDataChanged)
	c := run(tg, nexusA, 0, cdb(opReadCapacity10, 10), nil, 8)
	wantGood(t, c)
	if c.DataIn[3] != byte((testBlocks+8-1)&0xFF) {
		t.Errorf("capacity after resize % x", c.DataIn)
	}
	if err := tg.Resize(0); err != nil { // unchanged: no new UA
		t.Fatal(err)
	}
	wantSense(t, tur(t, tg, nexusB, 0), KeyUnitAttention, ASCCapacityDataChanged)
	wantGood(t, tur(t, tg, nexusB, 0))

	// LU add and remove: REPORTED LUNS DATA HAS CHANGED, cleared by REPORT LUNS.
	if err := tg.AddLU(1, LUConfig{Backend: &memBackend{b: make([]byte, 4096)}}); err != nil {
		t.Fatal(err)
	}
	if err := tg.AddLU(1, LUConfig{Backend: &memBackend{b: make([]byte, 4096)}}); err == nil {
		t.Error("duplicate AddLU succeeded")
	}
	wantSense(t, tur(t, tg, nexusA, 0), KeyUnitAttention, ASCReportedLUNsDataChanged)
	wantSense(t, tur(t, tg, nexusA, 1), KeyUnitAttention, ASCPowerOnResetOccurred)
	rl := cdb(opReportLUNs, 12)
	rl[9] = 64
	wantGood(t, run(tg, nexusB, 0, rl, nil, 64))
	wantGood(t, tur(t, tg, nexusB, 0))
	if err := tg.RemoveLU(1); err != nil {
		t.Fatal(err)
	}
	if err := tg.RemoveLU(1); err == nil {
		t.Error("double RemoveLU succeeded")
	}
	wantSense(t, tur(t, tg, nexusA, 0), KeyUnitAttention, ASCReportedLUNsDataChanged)
	wantSense(t, tur(t, tg, nexusA, 1), KeyIllegalRequest, ASCLUNotSupported)
	if got := tg.LUNs(); len(got) != 1 || got[0] != 0 {
		t.Errorf("LUNs %v", got)
	}

	// Nexus loss forgets the nexus; it starts over with a power-on UA.
	tg.NexusLoss(nexusA)
	wantSense(t, tur(t, tg, nexusA, 0), KeyUnitAttention, ASCPowerOnResetOccurred)
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if len(tg.LUNs()) != 0 {
		t.Error("Close left LUs")
	}
}

func TestAddLUValidation(t *testing.T) {
	tg := NewTarget(nil)
	mb := &memBackend{b: make([]byte, 4096)}
	for _, cfg := range []LUConfig{{}, {Backend: mb, BlockSize: 1000}, {Backend: mb, BlockSize: 256}, {Backend: mb, MaxTransferBytes: 100}} {
		if err := tg.AddLU(0, cfg); err == nil {
			t.Errorf("AddLU(%+v) succeeded", cfg)
		}
	}
	if err := tg.AddLU(MaxLUN+1, LUConfig{Backend: mb}); err == nil {
		t.Error("LUN above MaxLUN accepted")
	}
}

func TestLUNEncoding(t *testing.T) {
	for _, tc := range []struct {
		lun uint64
		b   [8]byte
	}{
		{0, [8]byte{}},
		{5, [8]byte{0, 5}},
		{255, [8]byte{0, 0xFF}},
		{256, [8]byte{0x41, 0}},
		{16383, [8]byte{0x7F, 0xFF}},
	} {
		if got := EncodeLUN(tc.lun); got != tc.b {
			t.Errorf("EncodeLUN(%d) = % x", tc.lun, got)
		}
		if got := DecodeLUN(tc.b); got != tc.lun {
			t.Errorf("DecodeLUN(% x) = %d", tc.b, got)
		}
	}
	for _, b := range [][8]byte{{0x01, 0}, {0x80, 1}, {0xC0, 0}, {0, 1, 0, 1}, {0x40, 1, 0, 0, 0, 0, 0, 1}} {
		if got := DecodeLUN(b); got != InvalidLUN {
			t.Errorf("DecodeLUN(% x) = %d, want invalid", b, got)
		}
	}
}
