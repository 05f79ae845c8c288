package target

import (
	"errors"
	"net"
	"strconv"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
)

var errTargetColdReset = errors.New("target cold reset")

// closeAfterFlush closes the connection once everything queued so far is sent.
func (c *conn) closeAfterFlush() {
	o := getOut(pdu.OpNOPIn)
	o.close = true
	o.skip = true
	c.send(o)
}

// handleText answers a Text Request (§11.10): SendTargets (Appendix C) in discovery and normal sessions;
// other keys are answered NotUnderstood. A response longer than the initiator's MaxRecvDataSegmentLength is
// sent in pieces with C set, each continued by an empty Text Request carrying our TTT.
func (c *conn) handleText(h pdu.BHS) error {
	n := h.DataSegmentLength()
	buf := getBuf(max(n, 1))
	defer putBuf(buf)
	data := buf.b[:n]
	if err := c.tr.ReadData(data); err != nil {
		if errors.Is(err, pdu.ErrDataDigest) {
			c.reject(h, pdu.RejectDataDigest)
			return nil
		}
		return err
	}
	if !c.acceptCmdSN(h) {
		return nil
	}
	if ttt := h.TTT(); ttt != pdu.ReservedTag {
		if ttt != c.textTTT || c.textRest == nil {
			c.reject(h, pdu.RejectInvalidPDUField)
			return nil
		}
		c.sendTextPiece(h.ITT(), h.LUN())
		return nil
	}
	var resp []byte
	it := login.NewTextIter(data)
	for it.Next() {
		k, v := string(it.Key()), string(it.Value())
		switch k {
		case "SendTargets":
			resp = c.appendSendTargets(resp, v)
		default:
			resp = login.AppendKV(resp, k, "NotUnderstood")
		}
	}
	if it.Err() != nil {
		c.reject(h, pdu.RejectProtocolError)
		return nil
	}
	c.textRest = resp
	c.textTTT = pdu.ReservedTag
	c.sendTextPiece(h.ITT(), h.LUN())
	return nil
}

func (c *conn) sendTextPiece(itt uint32, lun [8]byte) {
	limit := int(max(c.params.PeerMaxRecvDataSegmentLength, 512))
	o := getOut(pdu.OpTextResp)
	r := o.BHS()
	r.SetITT(itt)
	r.SetLUN(lun)
	piece := c.textRest
	if len(piece) > limit {
		piece = piece[:limit]
		c.textRest = c.textRest[limit:]
		c.textTTT = c.newTTT()
		r.SetContinue(true)
		r.SetTTT(c.textTTT)
	} else {
		c.textRest = nil
		r.SetFinal(true)
		r.SetTTT(pdu.ReservedTag)
	}
	if len(piece) > 0 {
		o.buf = getBuf(len(piece))
		copy(o.buf.b, piece)
		o.Data = o.buf.b
	}
	c.send(o)
}

// appendSendTargets lists the targets this initiator may see: all of them for "All" in a discovery session,
// the session's own target for an empty value, or the named one.
func (c *conn) appendSendTargets(dst []byte, which string) []byte {
	ss := c.sess
	for _, t := range c.srv.Targets() {
		switch {
		case which == "All" && ss.discovery:
		case which == "" && !ss.discovery && t == ss.target:
		case which == t.Name:
		default:
			continue
		}
		if ok, _ := t.admit(ss.key.initiator); !ok {
			continue
		}
		dst = login.AppendKV(dst, "TargetName", t.Name)
		portals := c.srv.portals()
		if len(portals) == 0 {
			portals = []portalAddr{{c.tr.LocalAddr().String(), c.srv.connTPGT(c)}}
		}
		for _, pa := range portals {
			p := pa.addr
			if host, port, err := net.SplitHostPort(p); err == nil {
				if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
					// A wildcard listener: report the address this connection reached.
					if la, ok := c.tr.LocalAddr().(*net.TCPAddr); ok {
						p = net.JoinHostPort(la.IP.String(), port)
					}
				}
			}
			dst = login.AppendKV(dst, "TargetAddress", p+","+strconv.Itoa(int(pa.tag)))
		}
	}
	return dst
}
