package initiator

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/pdu"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

// outcome is how the target reacted to a bad input.
type outcome int

const (
	gotReject   outcome = iota // a Reject PDU
	gotClose                   // the connection was closed
	gotResponse                // a SCSI Response (or status-carrying Data-In) with an error status
	gotNothing                 // nothing within the wait (then a NOP ping must still be answered)
)

func (o outcome) String() string {
	return [...]string{"reject", "close", "error response", "nothing"}[o]
}

// reaction reads what the target sends after a bad input, for up to wait.
func reaction(t *testing.T, rc *RawConn, wait time.Duration) outcome {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		h, _, err := rc.ReadPDU(time.Until(deadline))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return gotNothing
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
				isReset(err) {
				return gotClose
			}
			t.Fatalf("reading the target's reaction: %v", err)
		}
		switch h.Opcode() {
		case pdu.OpReject:
			return gotReject
		case pdu.OpSCSIResponse:
			if h.Status() != 0 || h.Response() != 0 {
				return gotResponse
			}
			t.Fatalf("bad input answered with GOOD status")
		case pdu.OpDataIn:
			if h.Flags()&pdu.DataInStatus != 0 {
				if h.Status() != 0 {
					return gotResponse
				}
				t.Fatalf("bad input answered with GOOD status")
			}
		case pdu.OpR2T, pdu.OpNOPIn, pdu.OpAsyncMsg:
			// Keep reading.
		default:
			t.Fatalf("unexpected %v", h.Opcode())
		}
	}
	return gotNothing
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

func scsiCmd(rc *RawConn, itt uint32, cdb []byte, edtl uint32, write, final bool) *pdu.Out {
	o := &pdu.Out{}
	h := o.BHS()
	h.SetOpcode(pdu.OpSCSICommand)
	h.SetFinal(final)
	h.SetAttr(1)
	h.SetRead(!write && edtl > 0)
	h.SetWrite(write)
	h.SetLUN(scsi.EncodeLUN(0))
	h.SetITT(itt)
	h.SetEDTL(edtl)
	h.SetCmdSN(rc.NextCmdSN())
	h.SetExpStatSN(rc.ExpStatSN())
	copy(h.CDB(), cdb)
	return o
}

func dataOut(rc *RawConn, itt, ttt, dataSN, off uint32, data []byte, final bool) *pdu.Out {
	o := &pdu.Out{Data: data}
	h := o.BHS()
	h.SetOpcode(pdu.OpDataOut)
	h.SetFinal(final)
	h.SetLUN(scsi.EncodeLUN(0))
	h.SetITT(itt)
	h.SetTTT(ttt)
	h.SetExpStatSN(rc.ExpStatSN())
	h.SetDataSN(dataSN)
	h.SetBufferOffset(off)
	return o
}

func rw16(op byte, lba uint64, blocks uint32) []byte {
	cdb := make([]byte, 16)
	cdb[0] = op
	binary.BigEndian.PutUint64(cdb[2:], lba)
	binary.BigEndian.PutUint32(cdb[10:], blocks)
	return cdb
}

// ping checks that the connection still works: a NOP-Out must come back as a NOP-In.
func ping(t *testing.T, rc *RawConn) {
	t.Helper()
	o := &pdu.Out{}
	h := o.BHS()
	h.SetOpcode(pdu.OpNOPOut)
	h.SetImmediate(true)
	h.SetFinal(true)
	h.SetITT(0x4242)
	h.SetTTT(pdu.ReservedTag)
	h.SetCmdSN(rc.CmdSN())
	h.SetExpStatSN(rc.ExpStatSN())
	if err := rc.WritePDU(o); err != nil {
		t.Fatalf("ping: %v", err)
	}
	for i := 0; i < 8; i++ {
		r, _, err := rc.ReadPDU(3 * time.Second)
		if err != nil {
			t.Fatalf("ping: %v", err)
		}
		if r.Opcode() == pdu.OpNOPIn && r.ITT() == 0x4242 {
			return
		}
	}
	t.Fatal("ping not answered")
}

// TestBadInput sends malformed and out-of-sequence PDUs on raw connections while a well-behaved session runs
// I/O on the same target; the target must reject or close the bad connections, and the good session must
// not notice.
func TestBadInput(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	good := tt.dial(t, Options{})
	gctx, stopGood := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var goodErr error
	var goodIOs int
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = good.TestUnitReady(gctx, 0)
		w := make([]byte, 32<<10)
		r := make([]byte, len(w))
		for i := 0; i < 100000 && gctx.Err() == nil; i++ {
			lba := uint64(i%64) * 64
			pattern(w, lba, byte(i))
			if err := good.WriteAt(gctx, 0, lba, w, false); err != nil {
				if gctx.Err() == nil {
					goodErr = err
				}
				return
			}
			if err := good.ReadAt(gctx, 0, lba, r); err != nil {
				if gctx.Err() == nil {
					goodErr = err
				}
				return
			}
			if !bytes.Equal(r, w) {
				goodErr = fmt.Errorf("good session: data mismatch at iteration %d", i)
				return
			}
			goodIOs++
		}
	}()

	hdr := func(f func(h pdu.BHS)) []byte {
		b := make([]byte, pdu.BHSLen)
		f(pdu.BHS(b))
		return b
	}
	tests := []struct {
		name string
		send func(t *testing.T, rc *RawConn) error
		want []outcome
	}{
		{name: "garbage bytes", want: []outcome{gotReject, gotClose},
			send: func(t *testing.T, rc *RawConn) error { // TotalAHSLength 1020 and DataSegmentLength 2^24-1: the AHS arrives, the length is refused.
				return rc.WriteRaw(bytes.Repeat([]byte{0xff}, 4096))
			}},
		{name: "target opcode", want: []outcome{gotReject, gotClose},
			send: func(t *testing.T, rc *RawConn) error {
				return rc.WriteRaw(hdr(func(h pdu.BHS) { h.SetOpcode(pdu.OpSCSIResponse); h.SetFinal(true) }))
			}},
		{name: "truncated header", want: []outcome{gotClose},
			send: func(t *testing.T, rc *RawConn) error {
				b := hdr(func(h pdu.BHS) { h.SetOpcode(pdu.OpNOPOut); h.SetITT(1) })
				if err := rc.WriteRaw(b[:20]); err != nil {
					return err
				}
				return rc.Conn().(*net.TCPConn).CloseWrite()
			}},
		{name: "truncated data segment", want: []outcome{gotClose},
			send: func(t *testing.T, rc *RawConn) error {
				b := hdr(func(h pdu.BHS) {
					h.SetOpcode(pdu.OpNOPOut)
					h.SetImmediate(true)
					h.SetFinal(true)
					h.SetITT(1)
					h.SetTTT(pdu.ReservedTag)
					h.SetDataSegmentLength(1000)
					h.SetCmdSN(rc.CmdSN())
				})
				if err := rc.WriteRaw(append(b, make([]byte, 100)...)); err != nil {
					return err
				}
				return rc.Conn().(*net.TCPConn).CloseWrite()
			}},
		{name: "huge DataSegmentLength", want: []outcome{gotReject, gotClose},
			send: func(t *testing.T, rc *RawConn) error {
				o := scsiCmd(rc, 1, rw16(0x8a, 0, 8), 4096, true, true)
				b := append([]byte(nil), o.Hdr[:pdu.BHSLen]...)
				pdu.BHS(b).SetDataSegmentLength(0xffffff)
				return rc.WriteRaw(append(b, make([]byte, 4096)...))
			}},
		{name: "Data-Out for an unknown task", want: []outcome{gotNothing, gotReject, gotClose},
			send: func(t *testing.T, rc *RawConn) error {
				return rc.WritePDU(dataOut(rc, 0x5555, 0x77, 0, 0, make([]byte, 512), true))
			}},
		{name: "unsolicited Data-Out with wrong DataSN", want: []outcome{gotReject, gotClose, gotResponse},
			send: func(t *testing.T, rc *RawConn) error {
				if err := rc.WritePDU(scsiCmd(rc, 2, rw16(0x8a, 0, 16), 8192, true, false)); err != nil {
					return err
				}
				return rc.WritePDU(dataOut(rc, 2, pdu.ReservedTag, 5, 0, make([]byte, 4096), false))
			}},
		{name: "unsolicited Data-Out beyond the transfer", want: []outcome{gotReject, gotClose, gotResponse},
			send: func(t *testing.T, rc *RawConn) error {
				if err := rc.WritePDU(scsiCmd(rc, 3, rw16(0x8a, 0, 1), 512, true, false)); err != nil {
					return err
				}
				return rc.WritePDU(dataOut(rc, 3, pdu.ReservedTag, 0, 0, make([]byte, 4096), true))
			}},
		{name: "immediate data longer than EDTL", want: []outcome{gotReject, gotClose, gotResponse},
			send: func(t *testing.T, rc *RawConn) error {
				o := scsiCmd(rc, 4, rw16(0x8a, 0, 1), 512, true, true)
				o.Data = make([]byte, 4096)
				return rc.WritePDU(o)
			}},
		{name: "CDB transfer length larger than EDTL", want: []outcome{gotResponse, gotReject, gotClose},
			send: func(t *testing.T, rc *RawConn) error {
				return rc.WritePDU(scsiCmd(rc, 5, rw16(0x88, 0, 1000), 512, false, true))
			}},
		{name: "malformed extended-CDB AHS", want: []outcome{gotReject, gotClose},
			send: func(t *testing.T, rc *RawConn) error {
				o := scsiCmd(rc, 6, rw16(0x88, 0, 1), 512, false, true)
				o.AHS = []byte{0x01, 0x2c, pdu.AHSExtendedCDB, 0, 1, 2, 3, 4} // AHSLength 300 in 8 bytes
				return rc.WritePDU(o)
			}},
		{name: "extended CDB of 260 bytes", want: []outcome{gotResponse, gotReject, gotClose},
			send: func(t *testing.T, rc *RawConn) error {
				o := scsiCmd(rc, 7, rw16(0x7f, 0, 0), 0, false, true) // variable-length CDB opcode
				spec := make([]byte, 1+244)
				o.AHS = pdu.AppendAHS(nil, pdu.AHSExtendedCDB, spec)
				return rc.WritePDU(o)
			}},
		{name: "reserved ITT", want: []outcome{gotReject, gotClose, gotResponse},
			send: func(t *testing.T, rc *RawConn) error {
				return rc.WritePDU(scsiCmd(rc, pdu.ReservedTag, rw16(0x88, 0, 1), 512, false, true))
			}},
		{name: "duplicate ITT", want: []outcome{gotReject, gotClose, gotResponse},
			send: func(t *testing.T, rc *RawConn) error {
				// A write waiting for its data, then a second command with the same ITT.
				if err := rc.WritePDU(scsiCmd(rc, 8, rw16(0x8a, 0, 2048), 1<<20, true, true)); err != nil {
					return err
				}
				return rc.WritePDU(scsiCmd(rc, 8, rw16(0x88, 0, 1), 512, false, true))
			}},
		{name: "SNACK", want: []outcome{gotReject, gotClose},
			send: func(t *testing.T, rc *RawConn) error {
				return rc.WriteRaw(hdr(func(h pdu.BHS) { h.SetOpcode(pdu.OpSNACKReq); h.SetFinal(true); h.SetITT(9) }))
			}},
		{name: "login in full feature phase", want: []outcome{gotReject, gotClose},
			send: func(t *testing.T, rc *RawConn) error {
				return rc.WriteRaw(hdr(func(h pdu.BHS) { h.SetOpcode(pdu.OpLoginReq); h.SetImmediate(true) }))
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rc, err := DialRaw(ctx, Options{Address: tt.addr, TargetName: testIQN})
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if err := tc.send(t, rc); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := reaction(t, rc, 2*time.Second)
			ok := false
			for _, w := range tc.want {
				ok = ok || got == w
			}
			if !ok {
				t.Fatalf("target reacted with %v, want one of %v", got, tc.want)
			}
			t.Logf("target reaction: %v", got)
			if got == gotNothing || got == gotResponse {
				ping(t, rc)
			}
			if goodErr != nil {
				t.Fatalf("good session failed: %v", goodErr)
			}
		})
	}
	stopGood()
	wg.Wait()
	if goodErr != nil {
		t.Fatalf("good session failed: %v", goodErr)
	}
	if goodIOs == 0 {
		t.Fatal("good session did no I/O")
	}
	if err := good.NOP(testCtx(t)); err != nil {
		t.Fatalf("good session after the bad inputs: %v", err)
	}
}
