package initiator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
)

// Session is one logged-in iSCSI session over one connection. Its methods are safe for concurrent use.
type Session struct {
	opts   Options
	log    *slog.Logger
	nc     net.Conn
	r      *pdu.Reader
	params login.Params
	tsih   uint16

	// Send side: mu guards the queue, the CmdSN window and the flusher role.
	mu       sync.Mutex
	w        *pdu.Writer // used only by the goroutine holding busy
	q, spare []*outItem
	busy     bool
	cmdSN    uint32
	expCmdSN uint32
	maxCmdSN uint32
	sendErr  error
	window   chan struct{} // signalled when MaxCmdSN advances
	kick     chan struct{} // wakes the background flusher

	lastMax   atomic.Uint32
	expStatSN atomic.Uint32

	tasks   []task
	free    chan *task
	outFree chan *outItem

	dead      chan struct{}
	deadErr   error
	closeOnce sync.Once
	wg        sync.WaitGroup
	loggedOut atomic.Bool

	bsMu sync.RWMutex
	bs   map[uint64]uint32

	// Receive goroutine state.
	rhdr    [pdu.BHSLen]byte
	scratch []byte
}

// Dial connects to opts.Address and logs in to opts.TargetName.
func Dial(ctx context.Context, opts Options) (*Session, error) {
	nc, err := dial(ctx, &opts)
	if err != nil {
		return nil, err
	}
	s, err := DialConn(ctx, nc, opts)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return s, nil
}

func dial(ctx context.Context, opts *Options) (net.Conn, error) {
	addr := opts.Address
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, fmt.Sprint(DefaultPort))
	}
	var d interface {
		DialContext(ctx context.Context, network, address string) (net.Conn, error)
	} = &net.Dialer{}
	if opts.Dialer != nil {
		d = opts.Dialer
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("initiator: dial %s: %w", addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return nc, nil
}

// DialConn logs in over an established byte stream nc and starts the session. The session owns nc from then on
// (it is closed on failure too).
func DialConn(ctx context.Context, nc net.Conn, opts Options) (*Session, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.TargetName == "" {
		return nil, errors.New("initiator: TargetName required")
	}
	return start(ctx, nc, o, login.SessionNormal)
}

func start(ctx context.Context, nc net.Conn, o Options, sessionType string) (*Session, error) {
	r := pdu.NewReader(nc, 64<<10)
	w := pdu.NewWriter(nc)
	res, err := doLogin(ctx, nc, r, w, &o, sessionType)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	p := res.params
	r.HeaderDigest, r.DataDigest = p.HeaderDigest, p.DataDigest
	w.HeaderDigest, w.DataDigest = p.HeaderDigest, p.DataDigest
	r.MaxData = int(p.MaxRecvDataSegmentLength)
	s := &Session{
		opts: o, log: o.Logger.With("target", o.TargetName), nc: nc, r: r, w: w, params: p, tsih: res.tsih,
		cmdSN: res.cmdSN, expCmdSN: res.expCmdSN, maxCmdSN: res.maxCmd,
		q: make([]*outItem, 0, 256), spare: make([]*outItem, 0, 256),
		window: make(chan struct{}, 1), kick: make(chan struct{}, 1),
		tasks: make([]task, o.MaxTasks), free: make(chan *task, o.MaxTasks),
		outFree: make(chan *outItem, 4096),
		dead:    make(chan struct{}),
		bs:      map[uint64]uint32{},
		scratch: make([]byte, p.MaxRecvDataSegmentLength),
	}
	s.expStatSN.Store(res.expStatSN)
	s.lastMax.Store(res.maxCmd)
	for i := range s.tasks {
		t := &s.tasks[i]
		t.idx = uint32(i)
		t.done = make(chan struct{}, 1)
		t.itt.Store(pdu.ReservedTag)
		s.free <- t
	}
	s.log.Debug("logged in", "tsih", s.tsih, "header_digest", p.HeaderDigest, "data_digest", p.DataDigest,
		"immediate_data", p.ImmediateData, "initial_r2t", p.InitialR2T, "first_burst", p.FirstBurstLength,
		"max_burst", p.MaxBurstLength, "peer_mrdsl", p.PeerMaxRecvDataSegmentLength)
	s.wg.Add(2)
	go s.recvLoop()
	go s.flushLoop()
	return s, nil
}

// Params returns the negotiated operational parameters.
func (s *Session) Params() login.Params { return s.params }

// TSIH returns the target session identifying handle.
func (s *Session) TSIH() uint16 { return s.tsih }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.dead }

// Err returns why the session ended, or nil while it is running.
func (s *Session) Err() error {
	select {
	case <-s.dead:
		return s.deadErr
	default:
		return nil
	}
}

// fail ends the session with err; the receive goroutine then fails every outstanding task.
func (s *Session) fail(err error) {
	s.closeOnce.Do(func() {
		if !errors.Is(err, ErrSessionClosed) {
			err = fmt.Errorf("%w: %w", ErrSessionClosed, err)
		}
		s.mu.Lock()
		if s.sendErr == nil {
			s.sendErr = err
		}
		s.mu.Unlock()
		s.deadErr = err
		close(s.dead)
		_ = s.nc.Close()
	})
}

// Close drops the connection without logging out and waits for the session's goroutines.
func (s *Session) Close() error {
	s.fail(ErrSessionClosed)
	s.wg.Wait()
	return nil
}

// --- task pool ---

func (s *Session) getTask(ctx context.Context, kind taskKind) (*task, error) {
	var t *task
	select {
	case t = <-s.free:
	default:
		select {
		case t = <-s.free:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.dead:
			return nil, s.deadErr
		}
	}
	t.reset()
	t.kind = kind
	t.gen = (t.gen + 1) & 0x7fff
	t.itt.Store(t.gen<<16 | t.idx)
	t.state.Store(stReserved)
	return t, nil
}

func (s *Session) putTask(t *task) {
	t.itt.Store(pdu.ReservedTag)
	t.dataIn, t.dataOut = nil, nil
	t.state.Store(stFree)
	s.free <- t
}

// lookup finds the active task with the given ITT.
func (s *Session) lookup(itt uint32) *task {
	idx := itt & 0xffff
	if itt == pdu.ReservedTag || int(idx) >= len(s.tasks) {
		return nil
	}
	t := &s.tasks[idx]
	if t.itt.Load() != itt {
		return nil
	}
	if st := t.state.Load(); st != stActive && st != stAbandoned {
		return nil
	}
	return t
}

// complete hands a task's result to its caller (or frees it when the caller left).
func (s *Session) complete(t *task, err error) {
	t.err = err
	if t.state.CompareAndSwap(stActive, stDone) {
		t.done <- struct{}{}
		return
	}
	if t.state.CompareAndSwap(stAbandoned, stFree) {
		t.itt.Store(pdu.ReservedTag)
		t.dataIn, t.dataOut = nil, nil
		s.free <- t
	}
}

// wait blocks until t completes; it returns ctx's error if ctx ends first (the task is then abandoned: the
// target may still be moving its data, so the caller must not reuse the buffers before the session ends).
func (s *Session) wait(ctx context.Context, t *task) error {
	select {
	case <-t.done:
	case <-ctx.Done():
		if t.state.CompareAndSwap(stActive, stAbandoned) {
			return ctx.Err()
		}
		<-t.done
	case <-s.dead:
		if t.state.CompareAndSwap(stActive, stAbandoned) {
			return s.deadErr
		}
		<-t.done
	}
	return t.err
}

// --- send side ---

func (s *Session) getOut() *outItem {
	select {
	case it := <-s.outFree:
		return it
	default:
		return &outItem{pooled: true}
	}
}

func (s *Session) putOut(it *outItem) {
	it.out.Reset()
	select {
	case s.outFree <- it:
	default:
	}
}

func seqLT(a, b uint32) bool { return int32(a-b) < 0 }
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }

// submit assigns t its CmdSN (waiting for the window unless immediate), queues its command PDU and any
// unsolicited Data-Out and sends them.
func (s *Session) submit(ctx context.Context, t *task, immediate bool, unsolicited uint32) error {
	waited := false
	for {
		s.mu.Lock()
		if s.sendErr != nil {
			err := s.sendErr
			s.mu.Unlock()
			return err
		}
		if immediate || seqLE(s.cmdSN, s.maxCmdSN) {
			h := t.cmd.out.BHS()
			h.SetCmdSN(s.cmdSN)
			t.cmdSN.Store(s.cmdSN)
			if !immediate {
				s.cmdSN++
			}
			h.SetExpStatSN(s.expStatSN.Load())
			t.state.Store(stActive)
			s.q = append(s.q, &t.cmd)
			if unsolicited > 0 {
				imm := uint32(len(t.cmd.out.Data))
				s.queueDataOut(t, pdu.ReservedTag, imm, unsolicited-imm)
			}
			if waited && seqLE(s.cmdSN, s.maxCmdSN) {
				select {
				case s.window <- struct{}{}:
				default:
				}
			}
			s.flushLocked(false)
			return nil
		}
		s.mu.Unlock()
		waited = true
		select {
		case <-s.window:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.dead:
			return s.deadErr
		}
	}
}

// queueDataOut queues Data-Out PDUs for t.dataOut[off:off+n], each at most the target's
// MaxRecvDataSegmentLength, numbered from DataSN 0, the last with F set. The caller holds mu.
func (s *Session) queueDataOut(t *task, ttt, off, n uint32) {
	mrdsl := s.params.PeerMaxRecvDataSegmentLength
	itt := t.itt.Load()
	lun := t.cmd.out.BHS().LUN()
	exp := s.expStatSN.Load()
	end := off + n
	for sn := uint32(0); off < end; sn++ {
		l := min(end-off, mrdsl)
		it := s.getOut()
		h := it.out.BHS()
		h.SetOpcode(pdu.OpDataOut)
		h.SetFinal(off+l == end)
		h.SetLUN(lun)
		h.SetITT(itt)
		h.SetTTT(ttt)
		h.SetExpStatSN(exp)
		h.SetDataSN(sn)
		h.SetBufferOffset(off)
		it.out.Data = t.dataOut[off : off+l]
		s.q = append(s.q, it)
		off += l
	}
}

// queueImmediate queues a PDU that takes no CmdSN slot (NOP-Out answers) and wakes the background flusher.
// Called from the receive goroutine, which must never block on a write.
func (s *Session) queueAsync(it *outItem) {
	s.mu.Lock()
	if s.sendErr != nil {
		s.mu.Unlock()
		return
	}
	h := it.out.BHS()
	if h.Opcode() == pdu.OpNOPOut {
		h.SetCmdSN(s.cmdSN)
	}
	h.SetExpStatSN(s.expStatSN.Load())
	s.q = append(s.q, it)
	s.flushLocked(true)
}

// flushLocked sends the queue. With mu held on entry, released on return. When another goroutine is already
// writing it will pick the queue up; async hands the write to the background flusher.
func (s *Session) flushLocked(async bool) {
	if s.busy {
		s.mu.Unlock()
		return
	}
	if async {
		s.mu.Unlock()
		select {
		case s.kick <- struct{}{}:
		default:
		}
		return
	}
	s.busy = true
	s.drainLocked()
}

// drainLocked writes batches until the queue is empty; mu is held on entry and released on return.
func (s *Session) drainLocked() {
	var err error
	for len(s.q) > 0 && s.sendErr == nil {
		batch := s.q
		s.q = s.spare[:0]
		s.mu.Unlock()
		for _, it := range batch {
			s.w.Queue(&it.out)
		}
		err = s.w.Flush()
		for i, it := range batch {
			if it.pooled {
				s.putOut(it)
			}
			batch[i] = nil
		}
		s.mu.Lock()
		s.spare = batch[:0]
		if err != nil {
			break
		}
	}
	s.busy = false
	s.mu.Unlock()
	if err != nil {
		s.fail(fmt.Errorf("initiator: send: %w", err))
	}
}

func (s *Session) flushLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.kick:
		case <-s.dead:
			return
		}
		s.mu.Lock()
		if s.busy {
			s.mu.Unlock()
			continue
		}
		s.busy = true
		s.drainLocked()
	}
}

// updateWindow applies ExpCmdSN/MaxCmdSN from a target PDU (§4.2.2.1).
func (s *Session) updateWindow(h pdu.BHS) {
	exp, max := h.ExpCmdSN(), h.MaxCmdSN()
	if max == s.lastMax.Load() {
		return
	}
	if seqLT(max, exp-1) {
		return // MaxCmdSN < ExpCmdSN-1: ignore (§4.2.2.1)
	}
	s.mu.Lock()
	if seqLT(s.maxCmdSN, max) {
		s.maxCmdSN = max
		s.lastMax.Store(max)
	}
	if seqLT(s.expCmdSN, exp) {
		s.expCmdSN = exp
	}
	open := seqLE(s.cmdSN, s.maxCmdSN)
	s.mu.Unlock()
	if open {
		select {
		case s.window <- struct{}{}:
		default:
		}
	}
}

func (s *Session) advanceStatSN(h pdu.BHS) {
	sn := h.StatSN() + 1
	if seqLT(s.expStatSN.Load(), sn) {
		s.expStatSN.Store(sn)
	}
}

// --- receive side ---

func (s *Session) recvLoop() {
	defer s.wg.Done()
	h := pdu.BHS(s.rhdr[:])
	var err error
	for {
		if _, err = s.r.ReadHeader(h); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				err = ErrSessionClosed
			} else {
				err = fmt.Errorf("initiator: receive: %w", err)
			}
			break
		}
		if err = s.dispatch(h); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrSessionClosed) {
		s.log.Warn("session failed", "err", err)
	}
	s.fail(err)
	// Fail everything still outstanding. The writer may still hold task data until its write fails.
	for i := range s.tasks {
		t := &s.tasks[i]
		if st := t.state.Load(); st == stActive || st == stAbandoned {
			s.complete(t, s.deadErr)
		}
	}
}

func (s *Session) dispatch(h pdu.BHS) error {
	switch h.Opcode() {
	case pdu.OpDataIn:
		return s.handleDataIn(h)
	case pdu.OpSCSIResponse:
		return s.handleResponse(h)
	case pdu.OpR2T:
		return s.handleR2T(h)
	case pdu.OpNOPIn:
		return s.handleNOPIn(h)
	case pdu.OpTaskMgmtResp, pdu.OpLogoutResp:
		s.advanceStatSN(h)
		s.updateWindow(h)
		if err := s.r.DiscardData(); err != nil {
			return err
		}
		t := s.lookup(h.ITT())
		if t == nil || (t.kind != kindTMF && t.kind != kindLogout) {
			return fmt.Errorf("%w: %v for unknown ITT %#x", ErrProtocol, h.Opcode(), h.ITT())
		}
		t.response = h.Response()
		if h.Opcode() == pdu.OpLogoutResp {
			s.loggedOut.Store(true)
		}
		s.complete(t, nil)
		return nil
	case pdu.OpTextResp:
		return s.handleText(h)
	case pdu.OpAsyncMsg:
		return s.handleAsync(h)
	case pdu.OpReject:
		return s.handleReject(h)
	default:
		return fmt.Errorf("%w: unexpected %v", ErrProtocol, h.Opcode())
	}
}

// readScratch reads the data segment into the session's scratch buffer.
func (s *Session) readScratch(h pdu.BHS) ([]byte, error) {
	n := h.DataSegmentLength()
	if n > len(s.scratch) {
		return nil, fmt.Errorf("%w: data segment of %d bytes", ErrProtocol, n)
	}
	b := s.scratch[:n]
	if err := s.r.ReadData(b); err != nil {
		return nil, err
	}
	return b, nil
}

func (s *Session) handleDataIn(h pdu.BHS) error {
	s.updateWindow(h)
	t := s.lookup(h.ITT())
	if t == nil || t.kind != kindSCSI {
		return fmt.Errorf("%w: Data-In for unknown ITT %#x", ErrProtocol, h.ITT())
	}
	n := uint32(h.DataSegmentLength())
	off := h.BufferOffset()
	if uint64(off)+uint64(n) > uint64(len(t.dataIn)) {
		return fmt.Errorf("%w: Data-In offset %d length %d beyond the %d-byte buffer", ErrProtocol, off, n,
			len(t.dataIn))
	}
	if h.DataSN() != t.inNext {
		return fmt.Errorf("%w: Data-In DataSN %d, expected %d", ErrProtocol, h.DataSN(), t.inNext)
	}
	t.inNext++
	if n > 0 {
		var err error
		if t.state.Load() == stAbandoned {
			err = s.r.DiscardData()
		} else {
			err = s.r.ReadData(t.dataIn[off : off+n])
		}
		if err != nil {
			return err
		}
		t.inBytes += n
	}
	if h.Flags()&pdu.DataInStatus != 0 {
		s.advanceStatSN(h)
		t.status = h.Status()
		t.resFlags = h.Flags() & (pdu.RespOverflow | pdu.RespUnderflow)
		t.residual = h.ResidualCount()
		s.complete(t, nil)
	}
	return nil
}

func (s *Session) handleResponse(h pdu.BHS) error {
	s.advanceStatSN(h)
	s.updateWindow(h)
	t := s.lookup(h.ITT())
	if t == nil || t.kind != kindSCSI {
		return fmt.Errorf("%w: SCSI Response for unknown ITT %#x", ErrProtocol, h.ITT())
	}
	data, err := s.readScratch(h)
	if err != nil {
		return err
	}
	t.status = h.Status()
	t.response = h.Response()
	t.resFlags = h.Flags() & (pdu.RespOverflow | pdu.RespUnderflow | pdu.RespBidiOverflow | pdu.RespBidiUnderflow)
	t.residual = h.ResidualCount()
	if len(data) >= 2 {
		sl := int(data[0])<<8 | int(data[1])
		if sl > len(data)-2 {
			sl = len(data) - 2
		}
		t.senseLen = copy(t.sense[:], data[2:2+sl])
	}
	var cerr error
	if t.response != 0 {
		cerr = fmt.Errorf("%w: response 0x%02x", ErrServiceResponse, t.response)
	}
	s.complete(t, cerr)
	return nil
}

func (s *Session) handleR2T(h pdu.BHS) error {
	s.updateWindow(h)
	if err := s.r.DiscardData(); err != nil {
		return err
	}
	t := s.lookup(h.ITT())
	if t == nil || t.kind != kindSCSI {
		return fmt.Errorf("%w: R2T for unknown ITT %#x", ErrProtocol, h.ITT())
	}
	off, n := h.BufferOffset(), h.DesiredLength()
	if n == 0 || uint64(off)+uint64(n) > uint64(len(t.dataOut)) || n > s.params.MaxBurstLength {
		return fmt.Errorf("%w: R2T offset %d length %d for a %d-byte write", ErrProtocol, off, n, len(t.dataOut))
	}
	s.mu.Lock()
	if s.sendErr != nil {
		s.mu.Unlock()
		return nil
	}
	s.queueDataOut(t, h.TTT(), off, n)
	s.flushLocked(true)
	return nil
}

func (s *Session) handleNOPIn(h pdu.BHS) error {
	s.updateWindow(h)
	if h.ITT() != pdu.ReservedTag {
		s.advanceStatSN(h)
		if err := s.r.DiscardData(); err != nil {
			return err
		}
		t := s.lookup(h.ITT())
		if t == nil || t.kind != kindNOP {
			return fmt.Errorf("%w: NOP-In for unknown ITT %#x", ErrProtocol, h.ITT())
		}
		s.complete(t, nil)
		return nil
	}
	if h.TTT() == pdu.ReservedTag {
		return s.r.DiscardData() // no answer wanted
	}
	// A target ping: answer with a NOP-Out carrying its TTT and echoing its data (§11.18).
	it := s.getOut()
	n := h.DataSegmentLength()
	if cap(it.buf) < n {
		it.buf = make([]byte, n)
	}
	if err := s.r.ReadData(it.buf[:n]); err != nil {
		s.putOut(it)
		return err
	}
	o := it.out.BHS()
	o.SetOpcode(pdu.OpNOPOut)
	o.SetImmediate(true)
	o.SetFinal(true)
	o.SetLUN(h.LUN())
	o.SetITT(pdu.ReservedTag)
	o.SetTTT(h.TTT())
	if n > 0 {
		it.out.Data = it.buf[:n]
	}
	s.queueAsync(it)
	return nil
}

func (s *Session) handleAsync(h pdu.BHS) error {
	s.advanceStatSN(h)
	s.updateWindow(h)
	if err := s.r.DiscardData(); err != nil {
		return err
	}
	switch ev := h.AsyncEvent(); ev {
	case pdu.AsyncLogoutRequest:
		s.log.Info("target requests logout")
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_, _, p3 := h.AsyncParams()
			_ = p3
			ctx, cancel := context.WithTimeout(context.Background(), logoutTimeout)
			defer cancel()
			if err := s.logout(ctx); err != nil {
				s.log.Warn("logout on target request failed", "err", err)
			}
		}()
	case pdu.AsyncDropConnection, pdu.AsyncDropAllConns:
		return fmt.Errorf("%w: target drops the connection (async event %d)", ErrSessionClosed, ev)
	default:
		s.log.Debug("async message ignored", "event", ev)
	}
	return nil
}

func (s *Session) handleReject(h pdu.BHS) error {
	s.advanceStatSN(h)
	s.updateWindow(h)
	reason := h.Response()
	data, err := s.readScratch(h)
	if err != nil {
		return err
	}
	if len(data) < pdu.BHSLen {
		return fmt.Errorf("%w: Reject without the rejected header", ErrProtocol)
	}
	rh := pdu.BHS(data[:pdu.BHSLen])
	s.log.Debug("reject", "reason", reason, "opcode", rh.Opcode(), "itt", rh.ITT())
	if t := s.lookup(rh.ITT()); t != nil {
		s.complete(t, &RejectError{Reason: reason})
	}
	return nil
}

func (s *Session) handleText(h pdu.BHS) error {
	s.advanceStatSN(h)
	s.updateWindow(h)
	t := s.lookup(h.ITT())
	if t == nil || t.kind != kindText {
		return fmt.Errorf("%w: Text Response for unknown ITT %#x", ErrProtocol, h.ITT())
	}
	data, err := s.readScratch(h)
	if err != nil {
		return err
	}
	if len(t.text)+len(data) > maxTextResponse {
		return fmt.Errorf("%w: text response longer than %d bytes", ErrProtocol, maxTextResponse)
	}
	t.text = append(t.text, data...)
	if h.Final() {
		s.complete(t, nil)
		return nil
	}
	// Ask for the rest: an empty Text Request with the target's TTT (§11.10.4).
	it := s.getOut()
	o := it.out.BHS()
	o.SetOpcode(pdu.OpTextReq)
	o.SetImmediate(true)
	o.SetFinal(true)
	o.SetITT(h.ITT())
	o.SetTTT(h.TTT())
	s.mu.Lock()
	o.SetCmdSN(s.cmdSN)
	s.mu.Unlock()
	s.queueAsync(it)
	return nil
}

const maxTextResponse = 1 << 20
