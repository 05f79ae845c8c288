package target

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
)

func TestReadWriteImmediateAndPhaseCollapse(t *testing.T) {
	_, addr := newTestServer(t, Config{}, nil)
	c, err := dialRaw(t, addr, login.InitiatorConfig{TargetName: testIQN}, 1)
	if err != nil {
		t.Fatal(err)
	}
	c.clearUA()
	data := bytes.Repeat([]byte{0xa5, 0x5a, 1, 2}, 1024) // 4 KiB, within FirstBurstLength: immediate data
	// WRITE(10) LBA 8, 8 blocks.
	c.scsi([]byte{0x2a, 0, 0, 0, 0, 8, 0, 0, 8, 0}, false, 4096, data)
	h, _, err := c.read(5 * time.Second)
	if err != nil || h.Opcode() != pdu.OpSCSIResponse || h.Status() != 0 {
		t.Fatalf("write response %v status %#x err %v", h.Opcode(), h.Status(), err)
	}
	// READ(10) with EDTL larger than needed: underflow residual in the phase-collapsed Data-In.
	c.scsi([]byte{0x28, 0, 0, 0, 0, 8, 0, 0, 8, 0}, true, 8192, nil)
	var got []byte
	for i := 0; i < 64; i++ {
		h, d, err := c.read(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if h.Opcode() != pdu.OpDataIn {
			t.Fatalf("got %v, want Data-In", h.Opcode())
		}
		got = append(got, d...)
		if h.Flags()&pdu.DataInStatus != 0 {
			if h.Flags()&pdu.RespUnderflow == 0 || h.ResidualCount() != 4096 {
				t.Fatalf("flags %#x residual %d, want underflow 4096", h.Flags(), h.ResidualCount())
			}
			break
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("read data differs from written data")
	}
}

func TestSendTargetsDiscovery(t *testing.T) {
	_, addr := newTestServer(t, Config{Portals: []string{"192.0.2.7:3260"}}, nil)
	c, err := dialRaw(t, addr, login.InitiatorConfig{SessionType: "Discovery"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var o pdu.Out
	h := o.BHS()
	h.SetOpcode(pdu.OpTextReq)
	h.SetFinal(true)
	h.SetITT(7)
	h.SetTTT(pdu.ReservedTag)
	h.SetCmdSN(c.cmdSN)
	o.Data = login.AppendKV(nil, "SendTargets", "All")
	c.send(&o)
	r, d, err := c.read(5 * time.Second)
	if err != nil || r.Opcode() != pdu.OpTextResp || !r.Final() {
		t.Fatalf("text response %v err %v", r.Opcode(), err)
	}
	var kvs []login.KV
	it := login.NewTextIter(d)
	for it.Next() {
		kvs = append(kvs, login.KV{Key: string(it.Key()), Value: string(it.Value())})
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	want := []login.KV{{Key: "TargetName", Value: testIQN}, {Key: "TargetAddress", Value: "192.0.2.7:3260,1"}}
	if len(kvs) != 2 || kvs[0] != want[0] || kvs[1] != want[1] {
		t.Fatalf("SendTargets = %v, want %v", kvs, want)
	}
	// SCSI commands are not allowed in a discovery session.
	c.scsi([]byte{0, 0, 0, 0, 0, 0}, false, 0, nil)
	r, _, err = c.read(5 * time.Second)
	if err != nil || r.Opcode() != pdu.OpReject {
		t.Fatalf("want Reject, got %v err %v", r, err)
	}
}

func TestKeepaliveDropsSilentInitiator(t *testing.T) {
	srv, addr := newTestServer(t, Config{NopInterval: 100 * time.Millisecond, NopTimeout: 300 * time.Millisecond}, nil)
	c, err := dialRaw(t, addr, login.InitiatorConfig{TargetName: testIQN}, 3)
	if err != nil {
		t.Fatal(err)
	}
	// The target pings; we answer once and the connection stays.
	h, _, err := c.read(3 * time.Second)
	if err != nil || h.Opcode() != pdu.OpNOPIn || h.TTT() == pdu.ReservedTag || h.ITT() != pdu.ReservedTag {
		t.Fatalf("want NOP-In ping, got %v err %v", h, err)
	}
	var o pdu.Out
	a := o.BHS()
	a.SetOpcode(pdu.OpNOPOut)
	a.SetImmediate(true)
	a.SetFinal(true)
	a.SetITT(pdu.ReservedTag)
	a.SetTTT(h.TTT())
	a.SetCmdSN(c.cmdSN)
	c.send(&o)
	if len(srv.Sessions()) != 1 {
		t.Fatalf("sessions = %d, want 1", len(srv.Sessions()))
	}
	// Now stay silent: the next ping goes unanswered and the target drops us.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		_, _, err := c.read(time.Until(deadline))
		if err != nil {
			if !isClosed(err) {
				t.Fatalf("want the connection closed, got %v", err)
			}
			break
		}
	}
	for i := 0; i < 100 && len(srv.Sessions()) != 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(srv.Sessions()); n != 0 {
		t.Fatalf("sessions after keepalive timeout = %d, want 0", n)
	}
}

func TestSessionReinstatement(t *testing.T) {
	srv, addr := newTestServer(t, Config{}, nil)
	c1, err := dialRaw(t, addr, login.InitiatorConfig{TargetName: testIQN}, 0x23d000000042)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dialRaw(t, addr, login.InitiatorConfig{TargetName: testIQN}, 0x23d000000042); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c1.read(5 * time.Second); !isClosed(err) {
		t.Fatalf("old connection: want closed, got %v", err)
	}
	for i := 0; i < 100 && len(srv.Sessions()) != 1; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(srv.Sessions()); n != 1 {
		t.Fatalf("sessions = %d, want 1 after reinstatement", n)
	}
}

func TestLoginFailures(t *testing.T) {
	_, addr := newTestServer(t, Config{}, func(tg *Target) {
		tg.CHAP = &login.CHAPSecret{User: "alice", Secret: "alice#secret-12"}
		tg.ACL = []ACLEntry{{InitiatorName: "iqn.2026-11.dev.xtgt:rawclient"}}
	})
	cases := []struct {
		name   string
		cfg    login.InitiatorConfig
		status uint16
	}{
		{"no such target", login.InitiatorConfig{TargetName: "iqn.2026-11.dev.xtgt:nope"}, 0x0203},
		{"not in ACL", login.InitiatorConfig{TargetName: testIQN, InitiatorName: "iqn.2026-11.dev.xtgt:other"}, 0x0202},
		{"no CHAP", login.InitiatorConfig{TargetName: testIQN}, 0x0201},
		{"wrong secret", login.InitiatorConfig{TargetName: testIQN,
			CHAP: &login.CHAPSecret{User: "alice", Secret: "wrong-secret-12"}}, 0x0201},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dialRaw(t, addr, tc.cfg, 9)
			var se *login.StatusError
			if !errorsAs(err, &se) || se.Status != tc.status {
				t.Fatalf("login error %v, want status %#04x", err, tc.status)
			}
		})
	}
	if _, err := dialRaw(t, addr, login.InitiatorConfig{TargetName: testIQN,
		CHAP: &login.CHAPSecret{User: "alice", Secret: "alice#secret-12"}}, 10); err != nil {
		t.Fatalf("right CHAP secret: %v", err)
	}
}

func TestGarbageIsolated(t *testing.T) {
	_, addr := newTestServer(t, Config{}, nil)
	good, err := dialRaw(t, addr, login.InitiatorConfig{TargetName: testIQN}, 11)
	if err != nil {
		t.Fatal(err)
	}
	bads := [][]byte{
		bytes.Repeat([]byte{0xff}, 48),                                             // target opcode 0x3f from an initiator
		append([]byte{0x01, 0x80, 0, 0, 0, 0xff, 0xff, 0xff}, make([]byte, 40)...), // 16 MiB data segment
		{0x05, 0x80, 0, 0}, // truncated
	}
	for i, b := range bads {
		c, err := dialRaw(t, addr, login.InitiatorConfig{TargetName: testIQN}, uint64(100+i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.nc.Write(b); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			c.nc.Close()
		}
		// The good session keeps working.
		c.t = t
		good.scsi([]byte{0x00, 0, 0, 0, 0, 0}, false, 0, nil) // TEST UNIT READY
		for {
			h, _, err := good.read(5 * time.Second)
			if err != nil {
				t.Fatalf("good session after garbage %d: %v", i, err)
			}
			if h.Opcode() == pdu.OpSCSIResponse {
				break
			}
		}
	}
}

func TestShutdownDrains(t *testing.T) {
	srv, addr := newTestServer(t, Config{}, nil)
	c, err := dialRaw(t, addr, login.InitiatorConfig{TargetName: testIQN}, 12)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- srv.Shutdown(ctx) }()
	h, _, err := c.read(5 * time.Second)
	if err != nil || h.Opcode() != pdu.OpAsyncMsg || h.AsyncEvent() != pdu.AsyncLogoutRequest {
		t.Fatalf("want Async logout request, got %v err %v", h, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.read(time.Second); !isClosed(err) {
		t.Fatalf("after shutdown: %v", err)
	}
}
