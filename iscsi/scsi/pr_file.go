package scsi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// prFileVersion is the format version of the APTPL state file.
const prFileVersion = 1

// prFile is the on-disk form of the persistent reservation state saved
// when APTPL is set (SPC-4 §5.9.5).
type prFile struct {
	Version       int           `json:"version"`
	Generation    uint32        `json:"generation"`
	Registrations []prFileReg   `json:"registrations"`
	Reservation   *prFileReserv `json:"reservation,omitempty"`
}

type prFileReg struct {
	Initiator string `json:"initiator"`
	ISID      uint64 `json:"isid"`
	Target    string `json:"target"`
	TPGT      uint16 `json:"tpgt"`
	Key       uint64 `json:"key"`
	AllTgPt   bool   `json:"all_tg_pt,omitempty"`
	AnyISID   bool   `json:"any_isid,omitempty"`
}

type prFileReserv struct {
	Type   byte `json:"type"`
	Holder int  `json:"holder"` // index into Registrations; -1 for all-registrants types
}

// ErrBadPRFile reports an APTPL state file that cannot be used.
var ErrBadPRFile = errors.New("bad persistent reservation file")

// save writes the state to p.file when APTPL is set, or removes the file
// when it is not. The write is atomic: a temporary file is written and
// synced, renamed over the old one, and the directory is synced. Caller
// holds mu.
func (p *prState) save() error {
	if p.file == "" {
		return nil
	}
	dir := filepath.Dir(p.file)
	if !p.aptpl {
		err := os.Remove(p.file)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("remove pr file: %w", err)
		}
		return syncDir(dir)
	}
	f := prFile{Version: prFileVersion, Generation: p.gen, Registrations: make([]prFileReg, len(p.regs))}
	holder := -1
	for i, r := range p.regs {
		f.Registrations[i] = prFileReg{Initiator: r.n.InitiatorName, ISID: r.n.ISID, Target: r.n.TargetName,
			TPGT: r.n.TPGT, Key: r.key, AllTgPt: r.allTgPt, AnyISID: r.anyISID}
		if p.typ != 0 && !allRegistrants(p.typ) && r.n == p.holder {
			holder = i
		}
	}
	if p.typ != 0 {
		f.Reservation = &prFileReserv{Type: p.typ, Holder: holder}
	}
	b, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode pr file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(p.file)+".tmp*")
	if err != nil {
		return fmt.Errorf("write pr file: %w", err)
	}
	name := tmp.Name()
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, p.file)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("write pr file: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// load reads p.file if it exists. A missing file is an empty state.
func (p *prState) load() error {
	if p.file == "" {
		return nil
	}
	b, err := os.ReadFile(p.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read pr file: %w", err)
	}
	var f prFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%w %s: %w", ErrBadPRFile, p.file, err)
	}
	if f.Version != prFileVersion {
		return fmt.Errorf("%w %s: version %d", ErrBadPRFile, p.file, f.Version)
	}
	regs := make([]prReg, 0, len(f.Registrations))
	for _, r := range f.Registrations {
		if r.Key == 0 || r.Initiator == "" {
			return fmt.Errorf("%w %s: registration without key or initiator", ErrBadPRFile, p.file)
		}
		regs = append(regs, prReg{n: Nexus{InitiatorName: r.Initiator, ISID: r.ISID, TargetName: r.Target, TPGT: r.TPGT},
			key: r.Key, allTgPt: r.AllTgPt, anyISID: r.AnyISID})
	}
	p.regs = regs
	p.gen = f.Generation
	p.aptpl = true
	p.typ = 0
	if rv := f.Reservation; rv != nil {
		if !validPRType(rv.Type) {
			return fmt.Errorf("%w %s: reservation type %d", ErrBadPRFile, p.file, rv.Type)
		}
		if !allRegistrants(rv.Type) {
			if rv.Holder < 0 || rv.Holder >= len(regs) {
				return fmt.Errorf("%w %s: reservation holder %d", ErrBadPRFile, p.file, rv.Holder)
			}
			p.holder = regs[rv.Holder].n
		} else if len(regs) == 0 {
			return fmt.Errorf("%w %s: all-registrants reservation without registrants", ErrBadPRFile, p.file)
		}
		p.typ = rv.Type
	}
	p.update()
	return nil
}
