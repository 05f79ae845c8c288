package rdmap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestOpcodes(t *testing.T) {
	tests := []struct {
		op                    Opcode
		ctrl                  byte
		tagged, send, inv, se bool
		qn                    uint32
		qnOK                  bool
	}{
		{OpWrite, 0x40, true, false, false, false, 0, false},
		{OpReadRequest, 0x41, false, false, false, false, 1, true},
		{OpReadResponse, 0x42, true, false, false, false, 0, false},
		{OpSend, 0x43, false, true, false, false, 0, true},
		{OpSendInv, 0x44, false, true, true, false, 0, true},
		{OpSendSE, 0x45, false, true, false, true, 0, true},
		{OpSendSEInv, 0x46, false, true, true, true, 0, true},
		{OpTerminate, 0x47, false, false, false, false, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.op.String(), func(t *testing.T) {
			c := Ctrl(tt.op)
			if c != tt.ctrl || CtrlOpcode(c) != tt.op || CtrlVersion(c) != 1 {
				t.Fatalf("ctrl %#x", c)
			}
			qn, ok := tt.op.QN()
			if tt.op.Tagged() != tt.tagged || tt.op.IsSend() != tt.send || tt.op.Invalidates() != tt.inv ||
				tt.op.Solicited() != tt.se || qn != tt.qn || ok != tt.qnOK {
				t.Fatal("predicates")
			}
		})
	}
}

func TestReadRequestGolden(t *testing.T) {
	b := AppendReadRequest(nil, 0x0a0b0c0d, 0x1000, 0x20000, 0x01020304, 0xffff000011112222)
	want := "0a0b0c0d" + "0000000000001000" + "00020000" + "01020304" + "ffff000011112222"
	if hex.EncodeToString(b) != want {
		t.Fatalf("got %x", b)
	}
	r, err := ParseReadRequest(b)
	if err != nil || r.SinkSTag() != 0x0a0b0c0d || r.SinkTO() != 0x1000 || r.Size() != 0x20000 ||
		r.SourceSTag() != 0x01020304 || r.SourceTO() != 0xffff000011112222 {
		t.Fatalf("parse %v", err)
	}
	if _, err := ParseReadRequest(b[:27]); !errors.Is(err, ErrShort) {
		t.Fatal("short accepted")
	}
}

func TestTerminateGolden(t *testing.T) {
	ddpHdr, _ := hex.DecodeString("c14000000001" + "0000000000000000") // tagged write header
	b := AppendTerminate(nil, LayerDDP, 1, 0x01, 1000, ddpHdr, nil)
	want := "11" + "01" + "c0" + "00" + "03e8" + hex.EncodeToString(ddpHdr)
	if hex.EncodeToString(b) != want {
		t.Fatalf("got  %x\nwant %s", b, want)
	}
	tm, err := ParseTerminate(b)
	if err != nil || tm.Layer() != 1 || tm.EType() != 1 || tm.Code() != 1 || !tm.HasSegLen() ||
		tm.SegLen() != 1000 || !bytes.Equal(tm.DDPHeader(), ddpHdr) || tm.RDMAHeader() != nil {
		t.Fatalf("parse %v", err)
	}
	rr := AppendReadRequest(nil, 1, 2, 3, 4, 5)
	uh, _ := hex.DecodeString("4141" + "00000000" + "00000001" + "00000001" + "00000000")
	b = AppendTerminate(nil, LayerRDMAP, ETypeRemoteProtection, CodeAccessRights, 46, uh, rr)
	tm, err = ParseTerminate(b)
	if err != nil || tm.Layer() != 0 || tm.EType() != 1 || tm.Code() != 2 || !bytes.Equal(tm.RDMAHeader(), rr) ||
		len(tm) != 4+2+18+28 {
		t.Fatalf("parse with rdma header: %v", err)
	}
	if _, err := ParseTerminate(b[:30]); !errors.Is(err, ErrShort) {
		t.Fatal("short accepted")
	}
	if tm, err := ParseTerminate([]byte{0x20, 0x02, 0, 0}); err != nil || tm.Layer() != LayerLLP || tm.Code() != LLPCodeCRC {
		t.Fatal("llp crc")
	}
}

func FuzzTerminate(f *testing.F) {
	f.Add(AppendTerminate(nil, LayerDDP, 1, 0, 20, make([]byte, 14), nil))
	f.Add(AppendTerminate(nil, 0, 1, 2, 46, append([]byte{0x41}, make([]byte, 17)...), make([]byte, 28)))
	f.Add([]byte{0x20, 2, 0x20, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		tm, err := ParseTerminate(b)
		if err != nil {
			return
		}
		_ = tm.Layer() + tm.EType() + tm.Code()
		_, _ = tm.DDPHeader(), tm.RDMAHeader()
		if tm.HasDDPHeader() {
			_ = tm.SegLen()
		}
	})
}

func FuzzReadRequest(f *testing.F) {
	f.Add(AppendReadRequest(nil, 1, 2, 3, 4, 5))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReadRequest(b)
		if err != nil {
			return
		}
		re := AppendReadRequest(nil, r.SinkSTag(), r.SinkTO(), r.Size(), r.SourceSTag(), r.SourceTO())
		if !bytes.Equal(re, b[:ReadRequestLen]) {
			t.Fatal("re-encode")
		}
	})
}
