package main

import (
	"fmt"
	"github.com/xtgt/xtgt/internal/adminapi"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestAdminLUNRoundTripPersisted(t *testing.T) {
	td := startTest(t, `# operator comment
targets:
  - name: `+iqnA+` # kept
    luns:
      - backing: ram:16M
      - backing: ram:4M
      - backing: ram:2M
`)
	s := td.dial(t, iqnA, "")
	stop := startIO(t, s)

	var sessions struct{ Sessions []adminapi.Session }
	if st := adminCall(t, td.socket, "GET", "/v1/sessions", nil, &sessions); st != http.StatusOK {
		t.Fatalf("sessions: status %d", st)
	}
	if len(sessions.Sessions) != 1 || sessions.Sessions[0].Target != iqnA || sessions.Sessions[0].TSIH != s.TSIH() ||
		len(sessions.Sessions[0].ISID) != 12 || sessions.Sessions[0].Remote == "" {
		t.Errorf("sessions = %+v", sessions.Sessions)
	}

	var ch adminapi.Change
	if st := adminCall(t, td.socket, "POST", "/v1/targets/"+iqnA+"/luns", adminapi.AddLUN{Backing: "ram:8M", BlockSize: 4096, Removable: true, PhysicalBlockExponent: 3}, &ch); st != http.StatusCreated {
		t.Fatalf("add lun: status %d %+v", st, ch)
	}
	if ch.Number == nil || *ch.Number != 3 || !ch.Persisted {
		t.Errorf("add lun answer %+v, want number 3 persisted", ch)
	}
	if st := adminCall(t, td.socket, "DELETE", "/v1/targets/"+iqnA+"/luns/1", nil, &ch); st != http.StatusOK || !ch.Persisted {
		t.Fatalf("remove lun: status %d %+v", st, ch)
	}
	stop()
	if got := reportLUNs(t, s); !slices.Equal(got, []uint64{0, 2, 3}) {
		t.Errorf("REPORT LUNS = %v, want [0 2 3]", got)
	}

	// The file now describes exactly the running LUNs, with their numbers, and kept its comments.
	b, err := os.ReadFile(td.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "# operator comment") || !strings.Contains(string(b), "# kept") {
		t.Errorf("comments lost:\n%s", b)
	}
	cfg, err := loadConfig(td.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var targets struct{ Targets []adminapi.Target }
	adminCall(t, td.socket, "GET", "/v1/targets", nil, &targets)
	tc := cfg.Targets[0]
	var fromFile []adminapi.LUN
	for i, n := range tc.lunNumbers() {
		bs := tc.LUNs[i].BlockSize
		if bs == 0 {
			bs = 512
		}
		fromFile = append(fromFile, adminapi.LUN{Number: n, Backing: tc.LUNs[i].Backing, BlockSize: bs})
	}
	var running []adminapi.LUN
	for _, l := range targets.Targets[0].LUNs {
		running = append(running, adminapi.LUN{Number: l.Number, Backing: l.Backing, BlockSize: l.BlockSize})
	}
	want := []adminapi.LUN{{Number: 0, Backing: "ram:16M", BlockSize: 512}, {Number: 2, Backing: "ram:2M", BlockSize: 512},
		{Number: 3, Backing: "ram:8M", BlockSize: 4096}}
	if !slices.Equal(fromFile, want) || !slices.Equal(running, want) {
		t.Errorf("file %+v\nrunning %+v\nwant %+v", fromFile, running, want)
	}
	if l := targets.Targets[0].LUNs[2]; l.Size != 8<<20 || !l.WriteBack || l.ReadOnly || !l.Removable || l.PhysicalBlockExponent != 3 {
		t.Errorf("lun 3 = %+v", l)
	}
	if l := tc.LUNs[len(tc.LUNs)-1]; !l.Removable || l.PhysicalBlockExponent != 3 {
		t.Errorf("lun 3 in the file = %+v", l)
	}
	// A reload of the written file is a no-op.
	if changes, err := td.reload(); err != nil || len(changes) != 0 {
		t.Errorf("reload after admin changes: %q %v", changes, err)
	}
	if !alive(s) {
		t.Error("session dropped")
	}
}

func TestAdminErrors(t *testing.T) {
	td := startTest(t, twoTargets)
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		want               string
	}{
		{"unknown target", "POST", "/v1/targets/iqn.x/luns", adminapi.AddLUN{Backing: "ram:1M"}, 404, "target"},
		{"no backing", "POST", "/v1/targets/" + iqnA + "/luns", adminapi.AddLUN{}, 400, "backing is required"},
		{"bad spec", "POST", "/v1/targets/" + iqnA + "/luns", adminapi.AddLUN{Backing: "tape:1"}, 400, "bad backing"},
		{"taken number", "POST", "/v1/targets/" + iqnA + "/luns", adminapi.AddLUN{Backing: "ram:1M", Number: new(uint64)}, 409, "already has lun 0"},
		{"unknown field", "POST", "/v1/targets/" + iqnA + "/luns", map[string]any{"backing": "ram:1M", "size": 3}, 400, "unknown field"},
		{"missing lun", "DELETE", "/v1/targets/" + iqnA + "/luns/7", nil, 404, "no lun 7"},
		{"last lun", "DELETE", "/v1/targets/" + iqnA + "/luns/0", nil, 409, "last lun"},
		{"bad number", "DELETE", "/v1/targets/" + iqnA + "/luns/x", nil, 400, "lun number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e adminapi.Error
			if st := adminCall(t, td.socket, tc.method, tc.path, tc.body, &e); st != tc.status || !strings.Contains(e.Error, tc.want) {
				t.Errorf("status %d error %q, want %d mentioning %q", st, e.Error, tc.status, tc.want)
			}
		})
	}
	b, _ := os.ReadFile(td.cfgPath)
	if !strings.Contains(string(b), "portals") || strings.Count(string(b), "backing") != 2 {
		t.Errorf("failed requests changed the file:\n%s", b)
	}
	st, err := os.Stat(td.socket)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", st.Mode().Perm())
	}
}

func TestAdminRuntimeOnlyWithoutConfig(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "a.sock")
	d, err := startDaemon(options{portals: []string{"127.0.0.1:0"}, luns: []string{"ram:1M"}, targetName: defaultTarget,
		adminSocket: sock, adminStrict: true}, testHandler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.shutdown(t.Context()) })
	var ch adminapi.Change
	if st := adminCall(t, sock, "POST", "/v1/targets/"+defaultTarget+"/luns", adminapi.AddLUN{Backing: "ram:1M"}, &ch); st != http.StatusCreated {
		t.Fatalf("status %d", st)
	}
	if ch.Persisted || !strings.Contains(ch.Note, "runtime only") {
		t.Errorf("answer %+v, want a runtime-only note", ch)
	}
	var e adminapi.Error
	if st := adminCall(t, sock, "POST", "/v1/reload", nil, &e); st != http.StatusPreconditionFailed || !strings.Contains(e.Error, "--config") {
		t.Errorf("reload without config: %d %q", st, e.Error)
	}
	// A second daemon on the same socket is refused; the first keeps it.
	if _, err := startDaemon(options{portals: []string{"127.0.0.1:0"}, targetName: defaultTarget, adminSocket: sock,
		adminStrict: true}, testHandler); err == nil || !strings.Contains(err.Error(), "another xtgtd") {
		t.Errorf("second daemon on a live socket: %v", err)
	}
	if st := adminCall(t, sock, "GET", "/v1/targets", nil, nil); st != http.StatusOK {
		t.Errorf("first daemon's socket: status %d", st)
	}
}

func TestPersistRemovePinsFollowingNumbers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("targets:\n- name: t\n  luns:\n  - backing: ram:1M\n  - backing: ram:2M\n  - backing: ram:3M\n  - number: 9\n    backing: ram:9M\n  - backing: ram:10M\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := persistRemoveLUN(path, "t", 0); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	tc := cfg.Targets[0]
	var got []string
	for i, n := range tc.lunNumbers() {
		got = append(got, fmt.Sprintf("%s=%d", tc.LUNs[i].Backing, n))
	}
	if want := []string{"ram:2M=1", "ram:3M=2", "ram:9M=9", "ram:10M=10"}; !slices.Equal(got, want) {
		t.Errorf("after removing lun 0: %v, want %v", got, want)
	}
	if tc.LUNs[3].Number != nil {
		t.Error("an entry after an explicit number was pinned needlessly")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", st.Mode().Perm())
	}
	if err := persistRemoveLUN(path, "t", 5); err == nil {
		t.Error("removing a missing lun succeeded")
	}
	if err := persistAddLUN(path, "nope", 1, LUNConf{Backing: "ram:1M"}); err == nil {
		t.Error("adding to a missing target succeeded")
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".c.yaml.tmp-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
