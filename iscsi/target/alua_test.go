package target

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/backstore"
	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

// exec runs one SCSI command and returns its status, Data-In and sense data.
func (c *rawClient) exec(cdb []byte, edtl uint32) (status byte, data, sense []byte) {
	c.t.Helper()
	itt := c.scsi(cdb, edtl > 0, edtl, nil)
	for i := 0; i < 64; i++ {
		h, d, err := c.read(5 * time.Second)
		if err != nil {
			c.t.Fatal(err)
		}
		if h.ITT() != itt {
			c.t.Fatalf("PDU %v for ITT %#x, want %#x", h.Opcode(), h.ITT(), itt)
		}
		switch h.Opcode() {
		case pdu.OpDataIn:
			data = append(data, d...)
			if h.Flags()&pdu.DataInStatus != 0 {
				return h.Status(), data, nil
			}
		case pdu.OpSCSIResponse:
			if len(d) >= 2 {
				n := int(binary.BigEndian.Uint16(d))
				sense = d[2:min(2+n, len(d))]
			}
			return h.Status(), data, sense
		default:
			c.t.Fatalf("unexpected %v", h.Opcode())
		}
	}
	c.t.Fatal("no response")
	return
}

// sendTargets runs SendTargets=All and returns the TargetAddress values.
func (c *rawClient) sendTargets() []string {
	c.t.Helper()
	var o pdu.Out
	h := o.BHS()
	h.SetOpcode(pdu.OpTextReq)
	h.SetFinal(true)
	h.SetITT(99)
	h.SetTTT(pdu.ReservedTag)
	h.SetCmdSN(c.cmdSN)
	o.Data = login.AppendKV(nil, "SendTargets", "All")
	c.send(&o)
	r, d, err := c.read(5 * time.Second)
	if err != nil || r.Opcode() != pdu.OpTextResp {
		c.t.Fatalf("text response %v err %v", r, err)
	}
	var out []string
	it := login.NewTextIter(d)
	for it.Next() {
		if string(it.Key()) == "TargetAddress" {
			out = append(out, string(it.Value()))
		}
	}
	return out
}

// TestPortalGroups serves one target through two portal groups (two listeners) with ALUA states
// active/optimized (tag 1) and active/non-optimized (tag 2), and checks that each session's TPGT — in login,
// SendTargets, VPD page 83h and REPORT TARGET PORT GROUPS — is that of the portal it came through.
func TestPortalGroups(t *testing.T) {
	var ls [2]net.Listener
	var addrs [2]string
	for i := range ls {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls[i], addrs[i] = l, l.Addr().String()
	}
	log := slog.New(slog.DiscardHandler)
	srv := NewServer(Config{Log: log, PortalGroups: []PortalGroup{{Tag: 1, Portals: addrs[:1]}, {Tag: 2, Portals: addrs[1:]}}})
	dev := scsi.NewTarget(log)
	ram, err := backstore.NewRAM(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.AddLU(0, scsi.LUConfig{Backend: ram}); err != nil {
		t.Fatal(err)
	}
	if err := dev.SetPortGroups([]scsi.PortGroup{{Tag: 1, State: scsi.ActiveOptimized}, {Tag: 2, State: scsi.ActiveNonOptimized}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddTarget(&Target{Name: testIQN, SCSI: dev}); err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ls[0])
	go srv.ServeGroup(ls[1], 2)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})

	wantAddrs := []string{addrs[0] + ",1", addrs[1] + ",2"}
	var sess [2]*rawClient
	for i, addr := range addrs {
		tag := uint16(i + 1)
		d, err := dialRaw(t, addr, login.InitiatorConfig{SessionType: "Discovery"}, uint64(0x10+i))
		if err != nil {
			t.Fatal(err)
		}
		if got := d.sendTargets(); len(got) != 2 || got[0] != wantAddrs[0] || got[1] != wantAddrs[1] {
			t.Errorf("SendTargets through group %d: %q, want %q", tag, got, wantAddrs)
		}
		c, err := dialRaw(t, addr, login.InitiatorConfig{TargetName: testIQN}, uint64(0x20+i))
		if err != nil {
			t.Fatal(err)
		}
		if c.params.TargetPortalGroupTag != tag {
			t.Errorf("login through group %d: TargetPortalGroupTag %d", tag, c.params.TargetPortalGroupTag)
		}
		c.clearUA()
		sess[i] = c

		// VPD 83h: relative target port (type 4) and target port group (type 5) designators.
		st, vpd, _ := c.exec([]byte{0x12, 1, 0x83, 0x01, 0, 0}, 256)
		if st != 0 || len(vpd) < 4 {
			t.Fatalf("INQUIRY VPD 83h status %#x", st)
		}
		found := map[byte][]byte{}
		for p := vpd[4:]; len(p) >= 4 && 4+int(p[3]) <= len(p); p = p[4+int(p[3]):] {
			found[p[1]&0x3F] = p[4 : 4+int(p[3])]
		}
		port := []byte{0, 0, 0, byte(tag)}
		if !bytes.Equal(found[0x14], port) || !bytes.Equal(found[0x15], port) {
			t.Errorf("group %d: relative port % x, port group % x", tag, found[0x14], found[0x15])
		}

		// REPORT TARGET PORT GROUPS, extended header: both groups; the port of this session is in group tag.
		st, rtpg, _ := c.exec([]byte{0xA3, 0x20 | 0x0A, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 256)
		if st != 0 || len(rtpg) != 8+2*12 || rtpg[4] != 0x10 {
			t.Fatalf("REPORT TARGET PORT GROUPS status %#x data % x", st, rtpg)
		}
		for g := 0; g < 2; g++ {
			dsc := rtpg[8+12*g:]
			gt, rel := binary.BigEndian.Uint16(dsc[2:]), binary.BigEndian.Uint16(dsc[10:])
			if gt != uint16(g+1) || rel != gt || dsc[7] != 1 || scsi.AccessState(dsc[0]&0x0F) != []scsi.AccessState{scsi.ActiveOptimized, scsi.ActiveNonOptimized}[g] {
				t.Errorf("descriptor %d: % x", g, dsc[:12])
			}
		}
	}

	// Standby on group 2: its session gets the attention, then NOT READY; group 1 keeps serving.
	if err := dev.SetPortGroupState(2, scsi.Standby); err != nil {
		t.Fatal(err)
	}
	senseOf := func(c *rawClient) (byte, scsi.ASC) {
		t.Helper()
		st, _, sense := c.exec([]byte{0, 0, 0, 0, 0, 0}, 0)
		if st == 0 {
			return 0, 0
		}
		s, err := scsi.ParseSense(sense)
		if err != nil {
			t.Fatalf("status %#x sense % x: %v", st, sense, err)
		}
		return s.Key, s.ASC
	}
	for i, want := range [][2]any{
		{scsi.KeyUnitAttention, scsi.ASCAsymmetricAccessChanged}, {byte(0), scsi.ASC(0)}, // group 1
		{scsi.KeyUnitAttention, scsi.ASCAsymmetricAccessChanged}, {scsi.KeyNotReady, scsi.ASCLUNotAccessibleStandby}, // group 2
	} {
		if k, a := senseOf(sess[i/2]); k != want[0] || a != want[1] {
			t.Errorf("TUR %d through group %d: key %#x asc %#04x, want %v", i%2, i/2+1, k, a, want)
		}
	}
}
