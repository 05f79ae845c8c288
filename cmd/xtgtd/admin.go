package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/xtgt/xtgt/internal/adminapi"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/xtgt/xtgt/iscsi/scsi"
)

// defaultAdminSocket is /run/xtgt/xtgtd.sock for root, else $XDG_RUNTIME_DIR/xtgtd.sock, else
// /tmp/xtgtd-UID.sock. cmd/xtgtadm uses the same rule.
func defaultAdminSocket() string {
	if os.Geteuid() == 0 {
		return "/run/xtgt/xtgtd.sock"
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "xtgtd.sock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("xtgtd-%d.sock", os.Getuid()))
}

// Errors the admin API maps to HTTP statuses.
var (
	errBadRequest = errors.New("bad request")
	errNotFound   = errors.New("not found")
	errConflict   = errors.New("conflict")
)

type adminServer struct {
	l   net.Listener
	srv *http.Server
}

// listenUnix binds a unix socket with mode 0600. A stale socket file (nobody answering) is replaced; a live one
// is an error.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("admin socket %s: another xtgtd is serving it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("admin socket %s: remove stale socket: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return l, nil
}

func (d *daemon) startAdmin(path string) (*adminServer, error) {
	l, err := listenUnix(path)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/targets", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]any{"targets": d.listTargets()})
	})
	mux.HandleFunc("GET /v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]any{"sessions": d.listSessions()})
	})
	mux.HandleFunc("POST /v1/targets/{target}/luns", func(w http.ResponseWriter, r *http.Request) {
		var req adminapi.AddLUN
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			fail(w, fmt.Errorf("%w: %w", errBadRequest, err))
			return
		}
		res, err := d.addLUN(r.PathValue("target"), req)
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, http.StatusCreated, res)
	})
	mux.HandleFunc("DELETE /v1/targets/{target}/luns/{number}", func(w http.ResponseWriter, r *http.Request) {
		num, err := strconv.ParseUint(r.PathValue("number"), 10, 64)
		if err != nil {
			fail(w, fmt.Errorf("%w: lun number %q", errBadRequest, r.PathValue("number")))
			return
		}
		res, err := d.removeLUNAdmin(r.PathValue("target"), num)
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		changes, err := d.reload()
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, http.StatusOK, adminapi.Change{Persisted: true, Changes: changes})
	})
	a := &adminServer{l: l, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}}
	go func() { _ = a.srv.Serve(l) }()
	return a, nil
}

func (a *adminServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		_ = a.srv.Close()
	}
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, errBadRequest):
		status = http.StatusBadRequest
	case errors.Is(err, errNotFound):
		status = http.StatusNotFound
	case errors.Is(err, errConflict):
		status = http.StatusConflict
	case errors.Is(err, errNoConfig):
		status = http.StatusPreconditionFailed
	}
	reply(w, status, adminapi.Error{Error: err.Error()})
}

func (d *daemon) listTargets() []adminapi.Target {
	d.mu.Lock()
	defer d.mu.Unlock()
	count := map[string]int{}
	for _, s := range d.srv.Sessions() {
		if !s.Discovery {
			count[s.TargetName]++
		}
	}
	out := []adminapi.Target{}
	for _, name := range sortedKeys(d.targets) {
		ts := d.targets[name]
		at := adminapi.Target{Name: name, Alias: ts.conf.Alias, LUNs: []adminapi.LUN{}, CHAP: ts.conf.CHAP != nil,
			MutualCHAP: ts.conf.MutualCHAP != nil, Sessions: count[name]}
		for _, a := range ts.conf.ACL {
			at.ACL = append(at.ACL, a.Initiator)
		}
		for _, num := range sortedLUNs(ts.luns) {
			ls := ts.luns[num]
			bs := ls.conf.BlockSize
			if bs == 0 {
				bs = 512
			}
			at.LUNs = append(at.LUNs, adminapi.LUN{Number: num, Backing: ls.conf.Backing, Size: ls.be.Size(), BlockSize: bs,
				ReadOnly: ls.conf.ReadOnly || hasROSuffix(ls.conf.Backing), WriteBack: ls.conf.writeBack(),
				Serial: ls.conf.Serial, Removable: ls.conf.Removable, PhysicalBlockExponent: ls.conf.PhysicalBlockExponent})
		}
		out = append(out, at)
	}
	return out
}

func hasROSuffix(spec string) bool { return len(spec) > 3 && spec[len(spec)-3:] == ",ro" }

func (d *daemon) listSessions() []adminapi.Session {
	out := []adminapi.Session{}
	for _, s := range d.srv.Sessions() {
		out = append(out, adminapi.Session{TSIH: s.TSIH, Initiator: s.InitiatorName, ISID: fmt.Sprintf("%012x", s.ISID),
			Target: s.TargetName, Remote: s.Remote, Discovery: s.Discovery})
	}
	return out
}

const runtimeOnly = "runtime only: xtgtd runs without a config file holding its targets; the change is lost at restart"

// addLUN adds a logical unit to a running target and, when the targets come from the config file, writes it
// there (the change is undone when the file cannot be written).
func (d *daemon) addLUN(tname string, req adminapi.AddLUN) (adminapi.Change, error) {
	lc := LUNConf{Number: req.Number, Backing: req.Backing, BlockSize: req.BlockSize, ReadOnly: req.ReadOnly,
		WriteBack: req.WriteBack, Serial: req.Serial, Removable: req.Removable,
		PhysicalBlockExponent: req.PhysicalBlockExponent}
	if lc.Backing == "" {
		return adminapi.Change{}, fmt.Errorf("%w: backing is required", errBadRequest)
	}
	if lc.PhysicalBlockExponent > 15 {
		return adminapi.Change{}, fmt.Errorf("%w: physical_block_exponent must be 0..15", errBadRequest)
	}
	if lc.BlockSize != 0 && lc.BlockSize != 512 && lc.BlockSize != 4096 {
		return adminapi.Change{}, fmt.Errorf("%w: block_size must be 512 or 4096", errBadRequest)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ts := d.targets[tname]
	if ts == nil {
		return adminapi.Change{}, fmt.Errorf("%w: target %q", errNotFound, tname)
	}
	var num uint64
	if lc.Number != nil {
		num = *lc.Number
		if num > scsi.MaxLUN {
			return adminapi.Change{}, fmt.Errorf("%w: lun number %d above %d", errBadRequest, num, scsi.MaxLUN)
		}
		if ts.luns[num] != nil {
			return adminapi.Change{}, fmt.Errorf("%w: target %s already has lun %d", errConflict, tname, num)
		}
	} else {
		for ts.luns[num] != nil {
			num++
		}
		if num > scsi.MaxLUN {
			return adminapi.Change{}, fmt.Errorf("%w: target %s has no free lun number", errConflict, tname)
		}
	}
	lc.Number = nil
	ls, err := openLUN(tname, num, lc)
	if err != nil {
		return adminapi.Change{}, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	res := adminapi.Change{Target: tname, Number: &num}
	var undo func()
	if d.fromFile {
		old, err := os.ReadFile(d.opts.configPath)
		if err == nil {
			err = persistAddLUN(d.opts.configPath, tname, num, lc)
		}
		if err != nil {
			_ = ls.be.Close()
			return adminapi.Change{}, fmt.Errorf("lun not added: %w", err)
		}
		undo = func() {
			if err := writeFileAtomic(d.opts.configPath, old); err != nil {
				d.log.Error("restore config after failed lun add", "err", err)
			}
		}
		res.Persisted = true
	} else {
		res.Note = runtimeOnly
	}
	if err := addLU(ts.t.SCSI, tname, num, ls); err != nil {
		if undo != nil {
			undo()
		}
		return adminapi.Change{}, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	ts.luns[num] = ls
	d.log.Info("lun added by admin", "target", tname, "lun", num, "backing", lc.Backing, "persisted", res.Persisted)
	return res, nil
}

// removeLUNAdmin removes a logical unit from a running target and, when the targets come from the config
// file, from the file too.
func (d *daemon) removeLUNAdmin(tname string, num uint64) (adminapi.Change, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ts := d.targets[tname]
	if ts == nil {
		return adminapi.Change{}, fmt.Errorf("%w: target %q", errNotFound, tname)
	}
	if ts.luns[num] == nil {
		return adminapi.Change{}, fmt.Errorf("%w: target %s has no lun %d", errNotFound, tname, num)
	}
	if len(ts.luns) == 1 {
		return adminapi.Change{}, fmt.Errorf("%w: lun %d is the last lun of target %s (a target needs one)", errConflict, num, tname)
	}
	res := adminapi.Change{Target: tname, Number: &num}
	if d.fromFile {
		if err := persistRemoveLUN(d.opts.configPath, tname, num); err != nil {
			return adminapi.Change{}, fmt.Errorf("lun not removed: %w", err)
		}
		res.Persisted = true
	} else {
		res.Note = runtimeOnly
	}
	d.removeLUN(ts, num)
	d.log.Info("lun removed by admin", "target", tname, "lun", num, "persisted", res.Persisted)
	return res, nil
}
