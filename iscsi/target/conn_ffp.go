package target

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/xtgt/xtgt/iscsi/pdu"
)

// Errors that end a connection in the full feature phase (ErrorRecoveryLevel 0).
var (
	errProtocol     = errors.New("target: protocol error")
	errInitiatorOp  = errors.New("target: target opcode from initiator")
	errDataSequence = errors.New("target: Data-Out sequence error")
)

// receiveLoop reads and dispatches PDUs until the connection ends.
func (c *conn) receiveLoop() error {
	h := pdu.BHS(c.hdr[:])
	for {
		ahs, err := c.tr.ReadHeader(h)
		if err != nil {
			if errors.Is(err, pdu.ErrDataTooLong) {
				c.reject(h, pdu.RejectProtocolError)
				return fmt.Errorf("%w: data segment %d longer than MaxRecvDataSegmentLength",
					errProtocol, h.DataSegmentLength())
			}
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || c.closed() {
				return nil
			}
			return fmt.Errorf("read PDU: %w", err)
		}
		c.rxCount.Add(1)
		if err := c.dispatch(h, ahs); err != nil {
			return err
		}
	}
}

func (c *conn) dispatch(h pdu.BHS, ahs []byte) error {
	op := h.Opcode()
	if c.sess.discovery {
		switch op {
		case pdu.OpTextReq, pdu.OpNOPOut, pdu.OpLogoutReq:
		default:
			c.reject(h, pdu.RejectProtocolError)
			return c.tr.DiscardData()
		}
	}
	switch op {
	case pdu.OpSCSICommand:
		return c.handleSCSICommand(h, ahs)
	case pdu.OpDataOut:
		return c.handleDataOut(h)
	case pdu.OpNOPOut:
		return c.handleNOPOut(h)
	case pdu.OpTaskMgmtReq:
		return c.handleTMF(h)
	case pdu.OpTextReq:
		return c.handleText(h)
	case pdu.OpLogoutReq:
		return c.handleLogout(h)
	case pdu.OpLoginReq:
		// A login request in full feature phase is a protocol error (§6.1).
		c.reject(h, pdu.RejectProtocolError)
		return fmt.Errorf("%w: Login Request in full feature phase", errProtocol)
	case pdu.OpSNACKReq:
		// SNACK needs ErrorRecoveryLevel > 0, which is never negotiated.
		c.reject(h, pdu.RejectProtocolError)
		return c.tr.DiscardData()
	default:
		if !op.IsInitiator() {
			c.reject(h, pdu.RejectProtocolError)
			return fmt.Errorf("%w: %v", errInitiatorOp, op)
		}
		c.reject(h, pdu.RejectCmdNotSupported)
		return c.tr.DiscardData()
	}
}

// reject sends a Reject PDU carrying the offending header (§11.17).
func (c *conn) reject(h pdu.BHS, reason byte) {
	o := getOut(pdu.OpReject)
	r := o.BHS()
	r.SetFinal(true)
	r.SetResponse(reason)
	r.SetITT(pdu.ReservedTag)
	n := copy(o.seg[:], h[:pdu.BHSLen])
	o.Data = o.seg[:n]
	if c.sess == nil {
		return
	}
	c.send(o)
}

// acceptCmdSN applies the CmdSN window to a request; false means the request is silently dropped.
func (c *conn) acceptCmdSN(h pdu.BHS) bool {
	if h.Immediate() {
		return true
	}
	return c.sess.checkCmdSN(h.CmdSN())
}

func (c *conn) handleNOPOut(h pdu.BHS) error {
	itt, ttt := h.ITT(), h.TTT()
	if itt == pdu.ReservedTag {
		// An answer to our ping (§11.18: must be immediate and carry our TTT), or a ping that wants no reply.
		if ttt != pdu.ReservedTag && c.pingTTT.CompareAndSwap(ttt, 0) {
			c.pingAt.Store(0)
		}
		return c.tr.DiscardData()
	}
	if ttt != pdu.ReservedTag {
		c.reject(h, pdu.RejectProtocolError)
		return c.tr.DiscardData()
	}
	if !c.acceptCmdSN(h) {
		return c.tr.DiscardData()
	}
	o := getOut(pdu.OpNOPIn)
	r := o.BHS()
	r.SetFinal(true)
	r.SetLUN(h.LUN())
	r.SetITT(itt)
	r.SetTTT(pdu.ReservedTag)
	if n := h.DataSegmentLength(); n > 0 {
		o.buf = getBuf(n)
		if err := c.tr.ReadData(o.buf.b); err != nil {
			o.release()
			if errors.Is(err, pdu.ErrDataDigest) {
				c.reject(h, pdu.RejectDataDigest)
				return nil
			}
			return err
		}
		// Echo at most what the initiator can receive.
		o.Data = o.buf.b[:min(n, int(c.params.PeerMaxRecvDataSegmentLength))]
	}
	c.send(o)
	return nil
}

func (c *conn) handleLogout(h pdu.BHS) error {
	if err := c.tr.DiscardData(); err != nil {
		return err
	}
	if !c.acceptCmdSN(h) {
		return nil
	}
	o := getOut(pdu.OpLogoutResp)
	r := o.BHS()
	r.SetFinal(true)
	r.SetITT(h.ITT())
	switch h.LogoutReason() {
	case pdu.LogoutCloseSession, pdu.LogoutCloseConnection:
		if h.LogoutReason() == pdu.LogoutCloseConnection && h.CID() != c.cid {
			r.SetResponse(pdu.LogoutRespCIDNotFound)
			c.send(o)
			return nil
		}
		r.SetResponse(pdu.LogoutRespSuccess)
		o.close = true
		if c.sess.taskCount() > 0 {
			// Answer after the outstanding commands, so their responses are not lost with the connection.
			go func() {
				for i := 0; i < 3000 && c.sess.taskCount() > 0 && !c.closed(); i++ {
					time.Sleep(10 * time.Millisecond)
				}
				c.send(o)
			}()
			return nil
		}
	case pdu.LogoutRemoveForRecov:
		r.SetResponse(pdu.LogoutRespRecoveryNotSupp)
	default:
		o.release()
		c.reject(h, pdu.RejectInvalidPDUField)
		return nil
	}
	c.send(o)
	return nil
}
