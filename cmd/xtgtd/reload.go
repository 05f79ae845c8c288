package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/xtgt/xtgt/iscsi/scsi"
	"github.com/xtgt/xtgt/iscsi/target"
)

// errNoConfig is returned by reload when xtgtd runs without --config.
var errNoConfig = errors.New("xtgtd runs without --config: nothing to reload")

// removeTargetTimeout bounds how long a reload waits for the sessions of a removed target to end.
const removeTargetTimeout = 10 * time.Second

// plan is a validated configuration change whose new resources (backing stores, listeners, targets) are
// already open, so applying it cannot fail for want of them.
type plan struct {
	cfg        *Config
	fromFile   bool
	addTargets []*tgtState
	delTargets []string
	access     map[string]TargetConf // kept targets whose alias, ACL or CHAP changed
	delLUNs    map[string][]uint64
	addLUNs    map[string]map[uint64]*lunState
	listen     map[string]net.Listener
	unlisten   []string
	changes    []string
}

// discard closes everything the plan opened.
func (p *plan) discard() {
	for _, ts := range p.addTargets {
		_ = ts.t.SCSI.Close()
	}
	for _, m := range p.addLUNs {
		for _, ls := range m {
			_ = ls.be.Close()
		}
	}
	for _, l := range p.listen {
		_ = l.Close()
	}
}

// reload re-reads the config file and applies the difference to the running daemon. A configuration that
// does not validate, or whose new backing stores or portals cannot be opened, is rejected as a whole and the
// running one stays. It returns a description of each change applied.
func (d *daemon) reload() ([]string, error) {
	if d.opts.configPath == "" {
		return nil, errNoConfig
	}
	cfg, fromFile, err := effectiveConfig(&d.opts)
	if err != nil {
		return nil, fmt.Errorf("reload rejected: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, err := d.prepare(cfg)
	if err != nil {
		return nil, fmt.Errorf("reload rejected: %w", err)
	}
	p.fromFile = fromFile
	d.apply(p)
	return p.changes, nil
}

// prepare compares cfg with the running state and opens what cfg adds. Called with d.mu held.
func (d *daemon) prepare(cfg *Config) (_ *plan, err error) {
	p := &plan{cfg: cfg, access: map[string]TargetConf{}, delLUNs: map[string][]uint64{},
		addLUNs: map[string]map[uint64]*lunState{}, listen: map[string]net.Listener{}}
	defer func() {
		if err != nil {
			p.discard() // p, not the nil result

		}
	}()
	keep := map[string]bool{}
	for _, tc := range cfg.Targets {
		keep[tc.Name] = true
		old := d.targets[tc.Name]
		if old == nil {
			ts, err := buildTarget(tc, d.log)
			if err != nil {
				return nil, err
			}
			p.addTargets = append(p.addTargets, ts)
			p.changes = append(p.changes, fmt.Sprintf("target %s added with %d luns", tc.Name, len(tc.LUNs)))
			continue
		}
		if !sameAccess(&old.conf, &tc) {
			p.access[tc.Name] = tc
			p.changes = append(p.changes, fmt.Sprintf("target %s access settings changed", tc.Name))
		}
		nums := tc.lunNumbers()
		for i, num := range nums {
			lc := tc.LUNs[i]
			if ls := old.luns[num]; ls != nil && sameUnit(ls.conf, lc) {
				continue
			}
			if _, ok := old.luns[num]; ok {
				p.delLUNs[tc.Name] = append(p.delLUNs[tc.Name], num)
				p.changes = append(p.changes, fmt.Sprintf("target %s lun %d changed", tc.Name, num))
			} else {
				p.changes = append(p.changes, fmt.Sprintf("target %s lun %d added", tc.Name, num))
			}
			ls, err := openLUN(tc.Name, num, lc)
			if err != nil {
				return nil, err
			}
			if p.addLUNs[tc.Name] == nil {
				p.addLUNs[tc.Name] = map[uint64]*lunState{}
			}
			p.addLUNs[tc.Name][num] = ls
		}
		for _, num := range sortedLUNs(old.luns) {
			if !slices.Contains(nums, num) {
				p.delLUNs[tc.Name] = append(p.delLUNs[tc.Name], num)
				p.changes = append(p.changes, fmt.Sprintf("target %s lun %d removed", tc.Name, num))
			}
		}
	}
	for _, name := range sortedKeys(d.targets) {
		if !keep[name] {
			p.delTargets = append(p.delTargets, name)
			p.changes = append(p.changes, fmt.Sprintf("target %s removed", name))
		}
	}
	for _, addr := range cfg.Portals {
		if _, ok := d.portals[addr]; ok {
			continue
		}
		if _, dup := p.listen[addr]; dup {
			continue
		}
		l, err := listen(addr)
		if err != nil {
			return nil, err
		}
		p.listen[addr] = l
		p.changes = append(p.changes, fmt.Sprintf("portal %s added", addr))
	}
	for _, addr := range sortedKeys(d.portals) {
		if !slices.Contains(cfg.Portals, addr) {
			p.unlisten = append(p.unlisten, addr)
			p.changes = append(p.changes, fmt.Sprintf("portal %s removed", addr))
		}
	}
	old := d.cfg
	if old.NopInterval != cfg.NopInterval || old.NopTimeout != cfg.NopTimeout || !sameCHAP(old.DiscoveryCHAP, cfg.DiscoveryCHAP) {
		d.log.Warn("nop_interval, nop_timeout and discovery_chap changes take effect at restart")
	}
	return p, nil
}

// apply carries out a prepared plan. Called with d.mu held.
func (d *daemon) apply(p *plan) {
	for _, name := range p.delTargets {
		ctx, cancel := context.WithTimeout(context.Background(), removeTargetTimeout)
		if err := d.srv.RemoveTarget(ctx, name); err != nil {
			d.log.Error("remove target", "target", name, "err", err)
		}
		cancel()
		delete(d.targets, name)
	}
	for _, ts := range p.addTargets {
		if err := d.srv.AddTarget(ts.t); err != nil { // cannot happen: names are unique and new
			d.log.Error("add target", "target", ts.conf.Name, "err", err)
			_ = ts.t.SCSI.Close()
			continue
		}
		d.targets[ts.conf.Name] = ts
	}
	for _, name := range sortedKeys(d.targets) {
		ts := d.targets[name]
		for _, num := range p.delLUNs[name] {
			d.removeLUN(ts, num)
		}
		for _, num := range sortedLUNs(p.addLUNs[name]) {
			ls := p.addLUNs[name][num]
			if err := addLU(ts.t.SCSI, name, num, ls); err != nil {
				d.log.Error("add lun", "err", err)
				continue
			}
			ts.luns[num] = ls
		}
		if tc, ok := p.access[name]; ok {
			t := accessTarget(tc, ts.t.SCSI)
			if _, err := d.srv.ReplaceTarget(t); err != nil {
				d.log.Error("replace target", "target", name, "err", err)
				continue
			}
			ts.t = t
			ts.conf = tc
			ts.conf.LUNs = nil
		}
	}
	tagOf := map[string]uint16{}
	var pgs []target.PortalGroup
	var groups []scsi.PortGroup
	for _, g := range p.cfg.PortalGroups {
		groups = append(groups, scsi.PortGroup{Tag: g.Tag, State: g.accessState()})
		pgs = append(pgs, target.PortalGroup{Tag: g.Tag, Portals: advertisedPortals(g.Portals)})
		for _, a := range g.Portals {
			tagOf[a] = g.Tag
		}
	}
	if !slices.Equal(groups, portGroups) {
		// ALUA states and group membership: SCSI reports them (and raises ASYMMETRIC ACCESS STATE CHANGED);
		// a listener that stays keeps the tag it was opened with until it is removed and added again.
		portGroups = groups
		for _, ts := range d.targets {
			if err := ts.t.SCSI.SetPortGroups(groups); err != nil {
				d.log.Error("port groups", "target", ts.conf.Name, "err", err)
			}
		}
		d.srv.SetPortalGroups(pgs)
		p.changes = append(p.changes, "portal groups changed")
	}
	for addr, l := range p.listen {
		pt := &portal{l: l, tag: tagOf[addr]}
		d.portals[addr] = pt
		d.serve(pt)
		d.log.Info("listening", "portal", l.Addr().String(), "tpgt", pt.tag)
	}
	for _, addr := range p.unlisten {
		pt := d.portals[addr]
		pt.removed.Store(true)
		_ = pt.l.Close()
		delete(d.portals, addr)
		d.log.Info("portal closed", "portal", addr)
	}
	d.level.Set(p.cfg.level())
	d.cfg = p.cfg
	d.srv.SetPortals(advertisedPortals(p.cfg.Portals))
	d.fromFile = p.fromFile
	for _, c := range p.changes {
		d.log.Info("config reloaded: " + c)
	}
	if len(p.changes) == 0 {
		d.log.Info("config reloaded: no changes")
	}
}

// removeLUN takes logical unit num out of ts and closes its backing store. Sessions stay; the SCSI layer
// reports REPORTED LUNS DATA HAS CHANGED to them.
func (d *daemon) removeLUN(ts *tgtState, num uint64) {
	ls := ts.luns[num]
	if ls == nil {
		return
	}
	if err := ts.t.SCSI.RemoveLU(num); err != nil {
		d.log.Error("remove lun", "target", ts.conf.Name, "lun", num, "err", err)
	}
	delete(ts.luns, num)
	if err := closeLU(ls); err != nil {
		d.log.Warn("close removed lun", "target", ts.conf.Name, "lun", num, "err", err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedLUNs(m map[uint64]*lunState) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
