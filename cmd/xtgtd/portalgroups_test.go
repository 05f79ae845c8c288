package main

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/xtgt/xtgt/iscsi/scsi"
)

func TestPortalGroupsConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name, yml, err string
	}{
		{"ok", "portal_groups:\n  - {tag: 1, portals: [\"a:1\"]}\n  - {tag: 2, portals: [\"b:1\", \"c:1\"], state: standby}\n", ""},
		{"tag 0", "portal_groups:\n  - {tag: 0, portals: [\"a:1\"]}\n", "tag must be"},
		{"duplicate tag", "portal_groups:\n  - {tag: 3, portals: [\"a:1\"]}\n  - {tag: 3, portals: [\"b:1\"]}\n", "duplicate tag 3"},
		{"portal in two groups", "portal_groups:\n  - {tag: 1, portals: [\"a:1\"]}\n  - {tag: 2, portals: [\"a:1\"]}\n", "in portal groups 1 and 2"},
		{"no portals", "portal_groups:\n  - {tag: 1}\n", "no portals"},
		{"bad state", "portal_groups:\n  - {tag: 1, portals: [\"a:1\"], state: offline}\n", "unknown access state"},
		{"with portals", "portals: [\"a:1\"]\nportal_groups:\n  - {tag: 1, portals: [\"b:1\"]}\n", "exclusive"},
	} {
		path := t.TempDir() + "/x.yaml"
		writeConfig(t, path, tc.yml+"targets:\n  - name: "+iqnA+"\n    luns: [{backing: \"ram:1M\"}]\n")
		_, err := loadConfig(path)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
		}
	}
	// Defaults: the portals make up group 1, active/optimized; groups list their portals in Portals.
	for _, tc := range []struct {
		o      options
		yml    string
		groups []PortalGroupConf
	}{
		{options{portals: []string{"x:1", "y:1"}, targetName: defaultTarget}, "", []PortalGroupConf{{Tag: 1, Portals: []string{"x:1", "y:1"}}}},
		{options{}, "portals: [\"p:1\"]\n", []PortalGroupConf{{Tag: 1, Portals: []string{"p:1"}}}},
		{options{}, "portal_groups:\n  - {tag: 5, portals: [\"a:1\"]}\n  - {tag: 6, portals: [\"b:1\"], state: unavailable}\n",
			[]PortalGroupConf{{Tag: 5, Portals: []string{"a:1"}}, {Tag: 6, Portals: []string{"b:1"}, State: "unavailable"}}},
		{options{portals: []string{"z:1"}}, "portal_groups:\n  - {tag: 5, portals: [\"a:1\"]}\n",
			[]PortalGroupConf{{Tag: 1, Portals: []string{"z:1"}}}},
	} {
		if tc.yml != "" {
			tc.o.configPath = t.TempDir() + "/x.yaml"
			writeConfig(t, tc.o.configPath, tc.yml+"targets:\n  - name: "+iqnA+"\n    luns: [{backing: \"ram:1M\"}]\n")
		}
		cfg, _, err := effectiveConfig(&tc.o)
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, g := range tc.groups {
			all = append(all, g.Portals...)
		}
		if len(cfg.PortalGroups) != len(tc.groups) || strings.Join(cfg.Portals, " ") != strings.Join(all, " ") {
			t.Fatalf("%q: groups %+v portals %v", tc.yml, cfg.PortalGroups, cfg.Portals)
		}
		for i, g := range cfg.PortalGroups {
			w := tc.groups[i]
			if g.Tag != w.Tag || strings.Join(g.Portals, " ") != strings.Join(w.Portals, " ") || g.accessState().String() != orDefault(w.State) {
				t.Errorf("%q: group %d %+v, want %+v", tc.yml, i, g, w)
			}
		}
	}
}

func orDefault(s string) string {
	if s == "" {
		return "active-optimized"
	}
	return s
}

// TestPortalGroupsServe runs xtgtd with two portal groups and checks that a session through each portal gets
// its group's tag in login and sees its group's state in REPORT TARGET PORT GROUPS.
func TestPortalGroupsServe(t *testing.T) {
	td := startTest(t, `
portal_groups:
  - tag: 1
    portals: ["127.0.0.1:0"]
  - tag: 2
    portals: ["127.0.0.2:0"]
    state: active-non-optimized
targets:
  - name: `+iqnA+`
    luns:
      - backing: ram:16M
`)
	addrs := td.portalAddrs() // sorted: 127.0.0.1 (group 1), 127.0.0.2 (group 2)
	if len(addrs) != 2 || !strings.HasPrefix(addrs[1], "127.0.0.2:") {
		t.Fatalf("portals %v", addrs)
	}
	// SendTargets through several portals is checked in package target: initiator.Discover refuses the
	// repeated TargetAddress keys of a multi-portal answer.
	for i, addr := range addrs {
		tag := uint16(i + 1)
		s, err := td.tryDialAt(addr, iqnA)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if got := s.Params().TargetPortalGroupTag; got != tag {
			t.Errorf("%s: TargetPortalGroupTag %d, want %d", addr, got, tag)
		}
		buf := make([]byte, 64)
		r := doUA(t, s, []byte{0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0}, nil, buf)
		if r.Status != 0 || binary.BigEndian.Uint32(buf) != 24 {
			t.Fatalf("REPORT TARGET PORT GROUPS status %#x data % x", r.Status, buf[:28])
		}
		for g, want := range []scsi.AccessState{scsi.ActiveOptimized, scsi.ActiveNonOptimized} {
			d := buf[4+12*g:]
			if scsi.AccessState(d[0]&0x0F) != want || binary.BigEndian.Uint16(d[2:]) != uint16(g+1) {
				t.Errorf("group descriptor %d: % x", g, d[:12])
			}
		}
	}
}

// TestReloadPortalGroupState changes a group's ALUA state by editing the config and reloading: a session through
// that group sees ASYMMETRIC ACCESS STATE CHANGED, then LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE.
func TestReloadPortalGroupState(t *testing.T) {
	conf := func(state string) string {
		return `
portal_groups:
  - tag: 1
    portals: ["127.0.0.1:0"]
    state: ` + state + `
targets:
  - name: ` + iqnA + `
    luns:
      - backing: ram:16M
`
	}
	td := startTest(t, conf("active-optimized"))
	s := td.dial(t, iqnA, "iqn.2026-11.dev.xtgt:alua-reload")
	tur := []byte{0, 0, 0, 0, 0, 0}
	if r := doUA(t, s, tur, nil, nil); r.Status != 0 {
		t.Fatalf("TEST UNIT READY before: status %#x", r.Status)
	}
	writeConfig(t, td.cfgPath, conf("standby")) // same portal key: the listener stays
	if _, err := td.daemon.reload(); err != nil {
		t.Fatal(err)
	}
	r, err := s.Do(context.Background(), 0, tur, nil, nil)
	if err != nil || r.Status != 2 || r.Sense.Key != scsi.KeyUnitAttention || r.Sense.ASC != scsi.ASCAsymmetricAccessChanged {
		t.Fatalf("after reload: %+v %v, want ASYMMETRIC ACCESS STATE CHANGED", r, err)
	}
	r, err = s.Do(context.Background(), 0, tur, nil, nil)
	if err != nil || r.Status != 2 || r.Sense.ASC != scsi.ASCLUNotAccessibleStandby {
		t.Fatalf("in standby: %+v %v, want 04/0B", r, err)
	}
}
