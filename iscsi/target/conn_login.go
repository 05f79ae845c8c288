package target

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
)

// maxLoginPDUs bounds the login exchange; a login that needs more is refused.
const maxLoginPDUs = 64

// maxLoginData bounds one Login Request's data segment (CHAP challenges may reach 1024 binary bytes).
const maxLoginData = 64 << 10

// Errors of the login phase.
var (
	errNotLogin       = errors.New("target: non-login PDU during login")
	errLoginTooLong   = errors.New("target: login did not finish")
	errLoginRefused   = errors.New("target: login refused")
	errLoginSessionID = errors.New("target: login changed ISID or TSIH")
)

func (c *conn) loginConfig() *login.TargetConfig {
	s := c.srv
	cfg := &login.TargetConfig{
		Limits:         s.cfg.Limits,
		PortalGroupTag: s.connTPGT(c),
		Lookup: func(targetName, initiatorName string) (login.TargetInfo, error) {
			t := s.target(targetName)
			if t == nil {
				return login.TargetInfo{}, login.ErrTargetNotFound
			}
			ok, chap := t.admit(initiatorName)
			if !ok {
				return login.TargetInfo{}, login.ErrForbidden
			}
			return login.TargetInfo{Name: t.Name, Alias: t.Alias, CHAP: chap, MutualCHAP: t.MutualCHAP}, nil
		},
	}
	cfg.Discovery = login.TargetInfo{CHAP: s.cfg.DiscoveryCHAP}
	return cfg
}

// loginPhase runs the login exchange (§6) and, on success, creates or reinstates the session.
func (c *conn) loginPhase() error {
	if c.nc != nil {
		_ = c.nc.SetDeadline(time.Now().Add(c.srv.cfg.LoginTimeout))
		defer func() { _ = c.nc.SetDeadline(time.Time{}) }()
	}
	h := pdu.BHS(c.hdr[:])
	var (
		neg    *login.TargetNegotiator
		isid   uint64
		cmdSN  uint32
		data   []byte
		resp   pdu.Out
		tsihIn uint16
	)
	c.tr.SetMaxRecvData(maxLoginData)
	for i := 0; i < maxLoginPDUs; i++ {
		if _, err := c.tr.ReadHeader(h); err != nil {
			return fmt.Errorf("read login request: %w", err)
		}
		if h.Opcode() != pdu.OpLoginReq {
			return fmt.Errorf("%w: %v", errNotLogin, h.Opcode())
		}
		n := h.DataSegmentLength()
		data = slices.Grow(data[:0], n)[:n]
		if err := c.tr.ReadData(data); err != nil {
			return fmt.Errorf("read login data: %w", err)
		}
		if neg == nil {
			isid, tsihIn, cmdSN = h.ISID(), h.TSIH(), h.CmdSN()
			c.cid = h.CID()
			c.statSN = h.ExpStatSN()
			neg = login.NewTarget(c.loginConfig(), isid, tsihIn)
			if tsihIn != 0 {
				// Adding a connection to an existing session (MC/S): we negotiate MaxConnections=1.
				class, detail := uint8(2), uint8(0x0a) // session does not exist
				if c.srv.sessionByTSIH(tsihIn) != nil {
					class, detail = 2, 0x06 // too many connections
				}
				c.loginReject(&resp, h, isid, tsihIn, cmdSN, class, detail)
				return fmt.Errorf("%w: connection for TSIH %d", errLoginRefused, tsihIn)
			}
		} else if h.ISID() != isid || h.TSIH() != tsihIn {
			c.loginReject(&resp, h, isid, tsihIn, cmdSN, 2, 0x0b)
			return errLoginSessionID
		}
		r, err := neg.Step(login.Request{
			CSG: login.Stage(h.CSG()), NSG: login.Stage(h.NSG()), Transit: h.Final(), Continue: h.Continue(),
			VersionMax: h.VersionMax(), VersionMin: h.VersionMin(), Text: data,
		})
		if err != nil && r.StatusClass == 0 {
			r.StatusClass, r.StatusDetail = 2, 0x00
		}
		if r.StatusClass != 0 {
			c.loginReject(&resp, h, isid, tsihIn, cmdSN, r.StatusClass, r.StatusDetail)
			return fmt.Errorf("%w: status %#02x%02x: %v", errLoginRefused, r.StatusClass, r.StatusDetail, err)
		}
		var tsih uint16
		if r.Done {
			if tsih = c.startSession(neg, isid, cmdSN); tsih == 0 {
				// The target was removed while this login was in progress.
				c.loginReject(&resp, h, isid, tsihIn, cmdSN, 2, 0x04)
				return fmt.Errorf("%w: target %q removed during login", errLoginRefused, neg.TargetName())
			}
		}
		resp.Reset()
		o := resp.BHS()
		o.SetOpcode(pdu.OpLoginResp)
		o.SetFinal(r.Transit)
		o.SetContinue(r.Continue)
		o.SetStages(uint8(r.CSG), uint8(r.NSG))
		o.SetISID(isid)
		o.SetTSIH(tsih)
		o.SetITT(h.ITT())
		o.SetStatSN(c.statSN)
		c.statSN++
		o.SetExpCmdSN(cmdSN)
		o.SetMaxCmdSN(cmdSN + c.srv.cfg.CmdWindow - 1)
		resp.Data = r.Text
		c.tr.Queue(&resp)
		if err := c.tr.Flush(); err != nil {
			return fmt.Errorf("send login response: %w", err)
		}
		if r.Done {
			p := c.params
			c.tr.SetDigests(p.HeaderDigest, p.DataDigest)
			c.tr.SetMaxRecvData(int(p.MaxRecvDataSegmentLength))
			c.log = c.log.With("initiator", c.sess.key.initiator, "tsih", c.sess.tsih)
			c.log.Info("login complete", "target", c.sess.key.target, "discovery", c.sess.discovery,
				"header_digest", p.HeaderDigest, "data_digest", p.DataDigest)
			return nil
		}
	}
	c.loginReject(&resp, h, isid, tsihIn, cmdSN, 2, 0x00)
	return errLoginTooLong
}

// loginReject sends a final Login Response with an error status.
func (c *conn) loginReject(resp *pdu.Out, req pdu.BHS, isid uint64, tsih uint16, cmdSN uint32, class, detail uint8) {
	resp.Reset()
	o := resp.BHS()
	o.SetOpcode(pdu.OpLoginResp)
	o.SetStages(req.CSG(), req.NSG())
	o.SetISID(isid)
	o.SetTSIH(tsih)
	o.SetITT(req.ITT())
	o.SetStatSN(c.statSN)
	o.SetExpCmdSN(cmdSN)
	o.SetMaxCmdSN(cmdSN)
	o.SetLoginStatus(class, detail)
	c.tr.Queue(resp)
	_ = c.tr.Flush()
}

// startSession creates the session of a completed login, reinstating an older one with the same initiator
// port and target (§6.3.5), and returns its TSIH.
func (c *conn) startSession(neg *login.TargetNegotiator, isid uint64, cmdSN uint32) uint16 {
	p := neg.Params()
	discovery := p.SessionType == "Discovery"
	key := sessionKey{initiator: p.InitiatorName, isid: isid}
	var t *Target
	if !discovery {
		key.target = p.TargetName
		if t = c.srv.target(p.TargetName); t == nil {
			return 0
		}
	}
	ss := newSession(c.srv, key, discovery, t, p, cmdSN, c.srv.connTPGT(c))
	ss.conn = c
	c.sess = ss
	c.params = p
	if old := c.srv.registerSession(ss); old != nil && old.conn != nil {
		c.log.Info("session reinstatement", "old_tsih", old.tsih)
		old.conn.close(errors.New("session reinstated"))
	}
	return ss.tsih
}
