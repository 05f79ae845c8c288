package initiator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

const logoutTimeout = 10 * time.Second

// exec sends the request built in t.cmd and waits for its answer. When completed is true the caller owns
// the task's results and must put it back; otherwise the task is gone (never sent, or abandoned).
func (s *Session) exec(ctx context.Context, t *task, immediate bool, unsolicited uint32) (completed bool, err error) {
	if err := s.submit(ctx, t, immediate, unsolicited); err != nil {
		s.putTask(t)
		return false, err
	}
	if err := s.wait(ctx, t); err != nil {
		if t.state.Load() != stDone {
			return false, err
		}
		return true, err
	}
	return true, nil
}

// NOP pings the target with a NOP-Out and waits for its NOP-In (§11.18).
func (s *Session) NOP(ctx context.Context) error {
	t, err := s.getTask(ctx, kindNOP)
	if err != nil {
		return err
	}
	h := t.cmd.out.BHS()
	h.SetOpcode(pdu.OpNOPOut)
	h.SetImmediate(true)
	h.SetFinal(true)
	h.SetITT(t.itt.Load())
	h.SetTTT(pdu.ReservedTag)
	completed, err := s.exec(ctx, t, true, 0)
	if completed {
		s.putTask(t)
	}
	if err != nil {
		return fmt.Errorf("initiator: nop: %w", err)
	}
	return nil
}

// TaskManagement sends a task management request (fn is one of pdu.TMF*) for lun, referring to refITT for
// ABORT TASK and QUERY TASK, and returns the target's response code (pdu.TMFResp*). A response other than
// Function Complete (or Function Succeeded for the QUERY functions) is also returned as a *TMFError.
func (s *Session) TaskManagement(ctx context.Context, fn uint8, lun uint64, refITT uint32) (byte, error) {
	t, err := s.getTask(ctx, kindTMF)
	if err != nil {
		return 0, err
	}
	h := t.cmd.out.BHS()
	h.SetOpcode(pdu.OpTaskMgmtReq)
	h.SetImmediate(true)
	h.SetFlags(0x80 | fn&0x7f)
	h.SetLUN(scsi.EncodeLUN(lun))
	h.SetITT(t.itt.Load())
	h.SetRefTaskTag(pdu.ReservedTag)
	if fn == pdu.TMFAbortTask || fn == pdu.TMFQueryTask {
		h.SetRefTaskTag(refITT)
		if rt := s.lookup(refITT); rt != nil {
			h.SetRefCmdSN(rt.cmdSN.Load())
		} else {
			s.mu.Lock()
			h.SetRefCmdSN(s.cmdSN)
			s.mu.Unlock()
		}
	}
	completed, err := s.exec(ctx, t, true, 0)
	if !completed {
		return 0, fmt.Errorf("initiator: task management: %w", err)
	}
	resp := t.response
	s.putTask(t)
	if err != nil {
		return 0, fmt.Errorf("initiator: task management: %w", err)
	}
	if resp != pdu.TMFRespComplete && resp != pdu.TMFRespSucceeded {
		return resp, &TMFError{Response: resp}
	}
	return resp, nil
}

// Logout closes the session with a Logout Request (reason: close the session) and then the connection.
func (s *Session) Logout(ctx context.Context) error {
	err := s.logout(ctx)
	_ = s.Close()
	return err
}

func (s *Session) logout(ctx context.Context) error {
	t, err := s.getTask(ctx, kindLogout)
	if err != nil {
		return err
	}
	h := t.cmd.out.BHS()
	h.SetOpcode(pdu.OpLogoutReq)
	h.SetImmediate(true)
	h.SetFlags(0x80 | pdu.LogoutCloseSession)
	h.SetITT(t.itt.Load())
	completed, err := s.exec(ctx, t, true, 0)
	if !completed {
		return fmt.Errorf("initiator: logout: %w", err)
	}
	resp := t.response
	s.putTask(t)
	if err != nil {
		return fmt.Errorf("initiator: logout: %w", err)
	}
	if resp != pdu.LogoutRespSuccess {
		return fmt.Errorf("initiator: logout response %d", resp)
	}
	s.fail(ErrSessionClosed)
	return nil
}

// text sends a Text Request with kv and returns the whole (possibly continued) response text.
func (s *Session) text(ctx context.Context, kv []byte) ([]byte, error) {
	t, err := s.getTask(ctx, kindText)
	if err != nil {
		return nil, err
	}
	h := t.cmd.out.BHS()
	h.SetOpcode(pdu.OpTextReq)
	h.SetImmediate(true)
	h.SetFinal(true)
	h.SetITT(t.itt.Load())
	h.SetTTT(pdu.ReservedTag)
	t.cmd.out.Data = kv
	completed, err := s.exec(ctx, t, true, 0)
	if !completed {
		return nil, fmt.Errorf("initiator: text: %w", err)
	}
	out := append([]byte(nil), t.text...)
	s.putTask(t)
	if err != nil {
		return nil, fmt.Errorf("initiator: text: %w", err)
	}
	return out, nil
}

// DiscoveredTarget is one target reported by SendTargets.
type DiscoveredTarget struct {
	Name string
	// Addresses are the TargetAddress values: "host:port,portal-group-tag".
	Addresses []string
}

// Discover opens a discovery session to addr, asks SendTargets=All and logs out. opts supplies the initiator
// name, CHAP, dialer and logger; its Address and TargetName are ignored.
func Discover(ctx context.Context, addr string, opts Options) ([]DiscoveredTarget, error) {
	opts.Address = addr
	nc, err := dial(ctx, &opts)
	if err != nil {
		return nil, err
	}
	return DiscoverConn(ctx, nc, opts)
}

// DiscoverConn runs discovery over an established stream nc (which it closes).
func DiscoverConn(ctx context.Context, nc net.Conn, opts Options) ([]DiscoveredTarget, error) {
	opts.TargetName = ""
	o, err := opts.withDefaults()
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	s, err := start(ctx, nc, o, login.SessionDiscovery)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	text, err := s.text(ctx, login.AppendKV(nil, "SendTargets", "All"))
	if err != nil {
		return nil, fmt.Errorf("initiator: discovery: %w", err)
	}
	// SendTargets repeats keys (several targets, several TargetAddress each): walk the text in order.
	var out []DiscoveredTarget
	it := login.NewTextIter(text)
	for it.Next() {
		switch string(it.Key()) {
		case "TargetName":
			out = append(out, DiscoveredTarget{Name: string(it.Value())})
		case "TargetAddress":
			if len(out) == 0 {
				return nil, fmt.Errorf("%w: TargetAddress before TargetName", ErrProtocol)
			}
			out[len(out)-1].Addresses = append(out[len(out)-1].Addresses, string(it.Value()))
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("initiator: discovery response: %w", err)
	}
	if err := s.logout(ctx); err != nil && !errors.Is(err, ErrSessionClosed) {
		s.log.Debug("discovery logout", "err", err)
	}
	return out, nil
}

// HostPort strips the portal group tag from a TargetAddress value.
func HostPort(targetAddress string) string {
	hp, _, _ := strings.Cut(targetAddress, ",")
	return hp
}
