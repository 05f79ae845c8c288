package target

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors of the administrative operations.
var (
	ErrNoTarget = errors.New("target: no such target")
	// errTargetRemoved ends the connections of a removed target.
	errTargetRemoved = errors.New("target removed by administrator")
	// errACLRevoked ends the connections of an initiator no longer in the target's ACL.
	errACLRevoked = errors.New("initiator no longer in the target's ACL")
)

// Target returns the registered target named name, or nil.
func (s *Server) Target(name string) *Target { return s.target(name) }

// RemoveTarget unregisters the target named name so that no new login reaches it, closes the connections of
// its sessions, waits until those sessions are gone (or ctx is done) and then flushes and closes its logical
// units. Sessions of other targets are not touched.
func (s *Server) RemoveTarget(ctx context.Context, name string) error {
	s.mu.Lock()
	t, ok := s.targets[name]
	if ok {
		delete(s.targets, name)
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("remove target %q: %w", name, ErrNoTarget)
	}
	// A login that passed its target lookup just before the removal may still register a session; every round
	// closes what it finds until none is left.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var waitErr error
	for waitErr == nil {
		live := s.closeSessions(func(ss *session) bool { return ss.key.target == name }, errTargetRemoved)
		if live == 0 {
			break
		}
		select {
		case <-ctx.Done():
			waitErr = fmt.Errorf("remove target %q: %d sessions still open: %w", name, live, ctx.Err())
		case <-tick.C:
		}
	}
	if err := t.SCSI.Close(); err != nil {
		return errors.Join(waitErr, fmt.Errorf("remove target %q: %w", name, err))
	}
	s.log.Info("target removed", "target", name)
	return waitErr
}

// closeSessions closes the connections of the non-discovery sessions match selects and returns how many such
// sessions are still registered.
func (s *Server) closeSessions(match func(*session) bool, why error) int {
	s.mu.Lock()
	var victims []*conn
	for _, ss := range s.tsih {
		if !ss.discovery && match(ss) && ss.conn != nil {
			victims = append(victims, ss.conn)
		}
	}
	s.mu.Unlock()
	for _, c := range victims {
		c.close(why)
	}
	return len(victims)
}

// ReplaceTarget swaps the registered target of the same name for t, which must share the old target's SCSI
// device: new logins see t's alias, ACL and CHAP settings. Sessions whose initiator t's ACL no longer admits are
// closed; the others continue undisturbed. It returns how many sessions were closed.
//
// Sessions established before the swap keep referring to the old *Target value for their lifetime.
func (s *Server) ReplaceTarget(t *Target) (closed int, err error) {
	s.mu.Lock()
	old, ok := s.targets[t.Name]
	if !ok {
		s.mu.Unlock()
		return 0, fmt.Errorf("replace target %q: %w", t.Name, ErrNoTarget)
	}
	if t.SCSI != old.SCSI {
		s.mu.Unlock()
		return 0, fmt.Errorf("replace target %q: the SCSI device must stay the same", t.Name)
	}
	s.targets[t.Name] = t
	s.mu.Unlock()
	closed = s.closeSessions(func(ss *session) bool {
		if ss.key.target != t.Name {
			return false
		}
		ok, _ := t.admit(ss.key.initiator)
		return !ok
	}, errACLRevoked)
	if closed > 0 {
		s.log.Info("sessions closed by ACL change", "target", t.Name, "sessions", closed)
	}
	return closed, nil
}
