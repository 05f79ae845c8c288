package iwarp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/xtgt/xtgt/datapath/iwarp/ddp"
	"github.com/xtgt/xtgt/datapath/iwarp/mpa"
	"github.com/xtgt/xtgt/datapath/iwarp/rdmap"
	"github.com/xtgt/xtgt/datapath/verbs"
)

// evilPeer is a hand-crafted MPA initiator (Rev 1, CRC on, no markers) that sends arbitrary FPDUs.
type evilPeer struct {
	t      *testing.T
	c      net.Conn
	framer *mpa.Framer
}

func dialEvil(t *testing.T, addr string) *evilPeer {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req, _ := mpa.AppendFrame(nil, mpa.FrameFields{CRC: true, Rev: mpa.Rev1})
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	rep := make([]byte, mpa.FrameHeaderLen)
	if _, err := readFull(c, rep); err != nil {
		t.Fatal(err)
	}
	if f, err := mpa.ParseFrame(rep, true); err != nil || f.Reject() || f.Rev() != 1 || !f.CRC() {
		t.Fatalf("reply %x: %v", rep, err)
	}
	return &evilPeer{t: t, c: c, framer: mpa.NewFramer(false, true)}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (p *evilPeer) send(ulpdu []byte, corruptCRC bool) {
	var wire []byte
	for _, b := range p.framer.AppendFPDU(nil, ulpdu, nil) {
		wire = append(wire, b...)
	}
	p.framer.Reset()
	if corruptCRC {
		wire[len(wire)-1] ^= 0xff
	}
	if _, err := p.c.Write(wire); err != nil {
		p.t.Fatal(err)
	}
}

type collect struct {
	cur  []byte
	msgs [][]byte
}

func (s *collect) BeginFPDU(int) error  { s.cur = s.cur[:0]; return nil }
func (s *collect) ULPDU(p []byte) error { s.cur = append(s.cur, p...); return nil }
func (s *collect) EndFPDU() error       { s.msgs = append(s.msgs, bytes.Clone(s.cur)); return nil }

// readAll returns every ULPDU the target sends until it closes the stream.
func (p *evilPeer) readAll() [][]byte {
	d := mpa.NewDeframer(false, true, 0)
	s := &collect{}
	buf := make([]byte, 64<<10)
	for {
		n, err := p.c.Read(buf)
		if n > 0 {
			if ferr := d.Feed(buf[:n], s); ferr != nil {
				p.t.Fatalf("target sent bad FPDU: %v", ferr)
			}
		}
		if err != nil {
			return s.msgs
		}
	}
}

func TestMaliciousPeer(t *testing.T) {
	const size = 8192
	const va = 0x10000
	dev := NewDevice(Config{CRC: true})
	pd, _ := dev.AllocPD()
	otherPD, _ := dev.AllocPD()
	rw := verbs.AccessLocalWrite | verbs.AccessRemoteWrite | verbs.AccessRemoteRead
	mrRW, _ := pd.RegMR(make([]byte, size), rw, va)
	mrRO, _ := pd.RegMR(make([]byte, size), verbs.AccessRemoteRead, va)
	mrWO, _ := pd.RegMR(make([]byte, size), verbs.AccessRemoteWrite, va)
	mrOther, _ := otherPD.RegMR(make([]byte, size), rw, va)
	mrInv, _ := pd.RegMR(make([]byte, size), rw, va)
	invSTag := mrInv.RKey()
	regions := []verbs.MR{mrRW, mrRO, mrWO, mrOther, mrInv}
	for i, m := range regions {
		fill(m.Buf(), uint64(50+i))
	}
	snapshot := func() [][]byte {
		var s [][]byte
		for _, m := range regions {
			s = append(s, bytes.Clone(m.Buf()))
		}
		return s
	}
	ln, err := dev.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	write := func(stag uint32, to uint64, n int) []byte {
		return append(ddp.AppendTagged(nil, true, rdmap.Ctrl(rdmap.OpWrite), stag, to), make([]byte, n)...)
	}
	read := func(src uint32, to uint64, n uint32) []byte {
		b := ddp.AppendUntagged(nil, true, rdmap.Ctrl(rdmap.OpReadRequest), 0, ddp.QNReadRequest, 1, 0)
		return rdmap.AppendReadRequest(b, 0x1234, 0, n, src, to)
	}
	send := func(op rdmap.Opcode, inv uint32) []byte {
		return append(ddp.AppendUntagged(nil, true, rdmap.Ctrl(op), inv, ddp.QNSend, 1, 0), 1, 2, 3, 4)
	}
	tests := []struct {
		name               string
		ulpdu              []byte
		badCRC             bool
		invalidate         bool
		layer, etype, code uint8
		violation          bool
	}{
		{"write past end", write(mrRW.RKey(), va+size-10, 20), false, false, 1, 1, 0x01, true},
		{"write before base", write(mrRW.RKey(), va-4, 8), false, false, 1, 1, 0x01, true},
		{"write wrong stag", write(mrRW.RKey()^0x5500, va, 8), false, false, 1, 1, 0x00, true},
		{"write wrong key", write(mrRW.RKey()^0x01, va, 8), false, false, 1, 1, 0x00, true},
		{"write invalidated stag", write(invSTag, va, 8), false, true, 1, 1, 0x00, true},
		{"write without right", write(mrRO.RKey(), va, 8), false, false, 0, 1, 0x02, true},
		{"write other PD", write(mrOther.RKey(), va, 8), false, false, 1, 1, 0x02, true},
		{"write TO wrap", write(mrRW.RKey(), ^uint64(0)-3, 8), false, false, 1, 1, 0x03, true},
		{"read past end", read(mrRW.RKey(), va+1, size), false, false, 0, 1, 0x01, true},
		{"read wrong stag", read(0xabcdef01, va, 8), false, false, 0, 1, 0x00, true},
		{"read without right", read(mrWO.RKey(), va, 8), false, false, 0, 1, 0x02, true},
		{"read other PD", read(mrOther.RKey(), va, 8), false, false, 0, 1, 0x03, true},
		{"read invalidated", read(invSTag, va, 8), false, true, 0, 1, 0x00, true},
		{"send without buffer", send(rdmap.OpSend, 0), false, false, 1, 2, 0x02, false},
		{"send-inv foreign stag", send(rdmap.OpSendInv, mrOther.RKey()), false, false, 0, 2, 0x09, false},
		{"bad crc", write(mrRW.RKey(), va, 8), true, false, 2, 0, 0x02, false},
		{"bad ddp version", func() []byte { b := write(mrRW.RKey(), va, 8); b[0] = 0xc2; return b }(), false, false, 1, 1, 0x04, false},
		{"bad opcode", func() []byte { b := write(mrRW.RKey(), va, 8); b[1] = 0x49; return b }(), false, false, 0, 2, 0x06, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.invalidate {
				mrInv.(*MR).valid.Store(false)
				defer mrInv.Revalidate(uint8(invSTag + 1))
			}
			scq, _ := dev.CreateCQ(16, nil)
			rcq, _ := dev.CreateCQ(16, nil)
			qpi, _ := pd.CreateQP(verbs.QPAttr{SendCQ: scq, RecvCQ: rcq, MaxSendWR: 4, MaxRecvWR: 4})
			q := qpi.(*QP)
			defer q.Close()
			before := snapshot()
			accepted := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				r, err := ln.Accept(ctx)
				if err == nil {
					err = r.Accept(q, verbs.ConnParam{})
				}
				accepted <- err
			}()
			p := dialEvil(t, ln.Addr().String())
			defer p.c.Close()
			if err := <-accepted; err != nil {
				t.Fatal(err)
			}
			if tt.name != "send without buffer" {
				if err := q.PostRecv(&verbs.RecvWR{SGL: []verbs.SGE{{Addr: va, Length: 16, LKey: mrRW.LKey()}}}); err != nil {
					t.Fatal(err)
				}
			}
			p.send(tt.ulpdu, tt.badCRC)
			msgs := p.readAll()
			if len(msgs) != 1 {
				t.Fatalf("target sent %d messages, want only a Terminate", len(msgs))
			}
			h, rest, err := ddp.Parse(msgs[0])
			if err != nil || h.Tagged() || rdmap.CtrlOpcode(h.ULPCtrl()) != rdmap.OpTerminate || h.QN() != ddp.QNTerminate {
				t.Fatalf("not a Terminate: %x (%v)", msgs[0], err)
			}
			term, err := rdmap.ParseTerminate(rest)
			if err != nil {
				t.Fatal(err)
			}
			if term.Layer() != tt.layer || term.EType() != tt.etype || term.Code() != tt.code {
				t.Fatalf("terminate layer %d type %d code %#x, want %d %d %#x",
					term.Layer(), term.EType(), term.Code(), tt.layer, tt.etype, tt.code)
			}
			if tt.layer != rdmap.LayerLLP && !bytes.Equal(term.DDPHeader(), tt.ulpdu[:ddp.HeaderLen(tt.ulpdu[0])]) {
				t.Fatalf("terminated DDP header %x", term.DDPHeader())
			}
			waitUntil(t, "qp error", func() bool { return q.State() == verbs.QPError })
			var te *verbs.TermError
			if !errors.As(q.Err(), &te) || te.Remote || te.Code != tt.code {
				t.Fatalf("qp err %v", q.Err())
			}
			st := q.Stats()
			if wantV := map[bool]uint64{true: 1, false: 0}[tt.violation]; st.AccessViolations != wantV {
				t.Fatalf("access violations %d, want %d", st.AccessViolations, wantV)
			}
			if st.TerminatesSent != 1 {
				t.Fatalf("stats %+v", st)
			}
			if tt.badCRC {
				// RFC 5044 lets an RNIC place an FPDU before its CRC is checked; a valid STag was used, so the
				// bytes may have landed, but nothing is delivered and the stream is terminated.
				if st.CRCErrors != 1 || st.RxMessages != 0 {
					t.Fatalf("stats %+v", st)
				}
				return
			}
			if st.PlacedBytes != 0 {
				t.Fatalf("placed %d bytes", st.PlacedBytes)
			}
			for i, b := range snapshot() {
				if !bytes.Equal(b, before[i]) {
					t.Fatalf("region %d modified", i)
				}
			}
		})
	}
}

// A rejected Request returns the responder's private data; a garbage Request gets a Reject reply.
func TestRejectAndBadRequest(t *testing.T) {
	dev := NewDevice(Config{})
	ln, _ := dev.Listen("127.0.0.1:0")
	defer ln.Close()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if r, err := ln.Accept(ctx); err == nil {
			_ = r.Reject([]byte("go away"))
		}
	}()
	pd, _ := dev.AllocPD()
	cq, _ := dev.CreateCQ(4, nil)
	qp, _ := pd.CreateQP(verbs.QPAttr{SendCQ: cq, RecvCQ: cq})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := dev.Connect(ctx, qp, ln.Addr().String(), verbs.ConnParam{PrivateData: []byte("hello")})
	var re *verbs.RejectError
	if !errors.Is(err, verbs.ErrRejected) || !errors.As(err, &re) || string(re.PrivateData) != "go away" {
		t.Fatalf("connect: %v", err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	rep := make([]byte, mpa.FrameHeaderLen)
	if _, err := readFull(c, rep); err != nil {
		t.Fatal(err)
	}
	if f, err := mpa.ParseFrame(rep, true); err != nil || !f.Reject() {
		t.Fatalf("reply to garbage: %x %v", rep, err)
	}
}
