package initiator

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
)

const (
	maxLoginSteps = 32
	maxLoginData  = 64 << 10
	loginITT      = 0
)

// loginResult is the state a completed login hands to the full feature phase.
type loginResult struct {
	params           login.Params
	tsih             uint16
	cmdSN            uint32 // the next CmdSN to use
	expStatSN        uint32
	expCmdSN, maxCmd uint32
}

// doLogin runs the login phase on nc. The context's deadline (or cancellation) bounds it.
func doLogin(ctx context.Context, nc net.Conn, r *pdu.Reader, w *pdu.Writer, o *Options, sessionType string) (loginResult, error) {
	var res loginResult
	if d, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		stop()
		_ = nc.SetDeadline(time.Time{})
	}()
	cfg := &login.InitiatorConfig{
		InitiatorName: o.InitiatorName,
		TargetName:    o.TargetName,
		SessionType:   sessionType,
		CHAP:          o.CHAP,
		MutualCHAP:    o.MutualCHAP,
		Want:          o.want(),
	}
	if sessionType == login.SessionDiscovery {
		cfg.TargetName = ""
	}
	neg := login.NewInitiator(cfg)
	req := neg.Start()
	r.MaxData = maxLoginData
	var out pdu.Out
	var hdr [pdu.BHSLen]byte
	h := pdu.BHS(hdr[:])
	var data []byte
	var tsih uint16
	for step := 0; step < maxLoginSteps; step++ {
		out.Reset()
		b := out.BHS()
		b.SetOpcode(pdu.OpLoginReq)
		b.SetImmediate(true)
		b.SetFinal(req.Transit)
		b.SetContinue(req.Continue)
		b.SetStages(uint8(req.CSG), uint8(req.NSG))
		b.SetVersion(0, 0)
		b.SetISID(o.ISID)
		b.SetTSIH(tsih)
		b.SetITT(loginITT)
		b.SetCID(0)
		b.SetCmdSN(res.cmdSN)
		b.SetExpStatSN(res.expStatSN)
		out.Data = req.Text
		w.Queue(&out)
		if err := w.Flush(); err != nil {
			return res, fmt.Errorf("initiator: send login request: %w", ctxErr(ctx, err))
		}
		if _, err := r.ReadHeader(h); err != nil {
			return res, fmt.Errorf("initiator: read login response: %w", ctxErr(ctx, err))
		}
		if h.Opcode() != pdu.OpLoginResp {
			return res, fmt.Errorf("%w: %v during login", ErrProtocol, h.Opcode())
		}
		n := h.DataSegmentLength()
		if cap(data) < n {
			data = make([]byte, n)
		}
		data = data[:n]
		if err := r.ReadData(data); err != nil {
			return res, fmt.Errorf("initiator: read login response data: %w", ctxErr(ctx, err))
		}
		if h.ITT() != loginITT || h.ISID() != o.ISID {
			return res, fmt.Errorf("%w: login response for another ITT or ISID", ErrProtocol)
		}
		res.expStatSN = h.StatSN() + 1
		res.expCmdSN, res.maxCmd = h.ExpCmdSN(), h.MaxCmdSN()
		if h.TSIH() != 0 {
			tsih = h.TSIH()
		}
		next, done, err := neg.Next(login.Response{
			CSG: login.Stage(h.CSG()), NSG: login.Stage(h.NSG()), Transit: h.Final(), Continue: h.Continue(),
			StatusClass: h.StatusClass(), StatusDetail: h.StatusDetail(), Text: data,
		})
		if err != nil {
			return res, fmt.Errorf("initiator: login to %q: %w", o.TargetName, err)
		}
		if done {
			if tsih == 0 {
				return res, fmt.Errorf("%w: final login response without TSIH", ErrProtocol)
			}
			res.params = neg.Params()
			res.tsih = tsih
			res.cmdSN = res.expCmdSN
			return res, nil
		}
		req = next
	}
	return res, fmt.Errorf("%w: login did not finish in %d steps", ErrProtocol, maxLoginSteps)
}

// ctxErr prefers the context's error when the context ended (the deadline hack turns it into an I/O timeout).
func ctxErr(ctx context.Context, err error) error {
	if ce := ctx.Err(); ce != nil {
		return ce
	}
	return err
}
