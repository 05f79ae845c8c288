package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// The configuration file is edited as a YAML node tree so that comments, key order and unrelated entries
// survive a runtime change; the result is validated and written atomically.

var errNotInFile = errors.New("not in the config file")

// lunEntry is how a LUN added at run time is written: only the fields that are set.
type lunEntry struct {
	Number    *uint64 `yaml:"number,omitempty"`
	Backing   string  `yaml:"backing"`
	BlockSize uint32  `yaml:"block_size,omitempty"`
	ReadOnly  bool    `yaml:"read_only,omitempty"`
	WriteBack *bool   `yaml:"write_back,omitempty"`
	Serial    string  `yaml:"serial,omitempty"`
	Removable bool    `yaml:"removable,omitempty"`
	PBExp     uint8   `yaml:"physical_block_exponent,omitempty"`
}

// persistAddLUN appends lc (with its number pinned) to target tname's luns in the file at path.
func persistAddLUN(path, tname string, num uint64, lc LUNConf) error {
	return editConfig(path, func(root *yaml.Node) error {
		luns, err := lunsNode(root, tname, true)
		if err != nil {
			return err
		}
		var n yaml.Node
		if err := n.Encode(lunEntry{Number: &num, Backing: lc.Backing, BlockSize: lc.BlockSize, ReadOnly: lc.ReadOnly,
			WriteBack: lc.WriteBack, Serial: lc.Serial, Removable: lc.Removable, PBExp: lc.PhysicalBlockExponent}); err != nil {
			return err
		}
		luns.Content = append(luns.Content, &n)
		return nil
	})
}

// persistRemoveLUN deletes LUN num of target tname from the file at path. Entries after it that relied on their
// list position get their number written out so that they keep it.
func persistRemoveLUN(path, tname string, num uint64) error {
	return editConfig(path, func(root *yaml.Node) error {
		luns, err := lunsNode(root, tname, false)
		if err != nil {
			return err
		}
		var tc TargetConf
		for _, item := range luns.Content {
			var lc LUNConf
			if err := item.Decode(&lc); err != nil {
				return fmt.Errorf("target %q: %w", tname, err)
			}
			tc.LUNs = append(tc.LUNs, lc)
		}
		nums := tc.lunNumbers()
		idx := -1
		for i, n := range nums {
			if n == num {
				idx = i
				break
			}
		}
		if idx < 0 {
			return fmt.Errorf("target %q lun %d: %w", tname, num, errNotInFile)
		}
		for i := idx + 1; i < len(tc.LUNs) && tc.LUNs[i].Number == nil; i++ {
			item := luns.Content[i]
			if item.Kind != yaml.MappingNode {
				return fmt.Errorf("target %q luns[%d]: not a mapping", tname, i)
			}
			k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "number"}
			v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(nums[i])}
			item.Content = append([]*yaml.Node{k, v}, item.Content...)
		}
		luns.Content = append(luns.Content[:idx], luns.Content[idx+1:]...)
		return nil
	})
}

// editConfig applies edit to the YAML document at path, checks that the result is a valid configuration and
// replaces the file atomically.
func editConfig(path string, edit func(root *yaml.Node) error) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("config %s: top level is not a mapping", path)
	}
	if err := edit(doc.Content[0]); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	var check Config
	dec := yaml.NewDecoder(bytes.NewReader(out.Bytes()))
	dec.KnownFields(true)
	if err := dec.Decode(&check); err != nil {
		return fmt.Errorf("edited config does not parse: %w", err)
	}
	if err := check.validate(); err != nil {
		return fmt.Errorf("edited config is invalid: %w", err)
	}
	return writeFileAtomic(path, out.Bytes())
}

// lunsNode returns the luns sequence of target tname, creating an empty one when create is set.
func lunsNode(root *yaml.Node, tname string, create bool) (*yaml.Node, error) {
	targets := mapValue(root, "targets")
	if targets == nil || targets.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("target %q: %w", tname, errNotInFile)
	}
	for _, t := range targets.Content {
		if t.Kind != yaml.MappingNode {
			continue
		}
		if name := mapValue(t, "name"); name == nil || name.Value != tname {
			continue
		}
		luns := mapValue(t, "luns")
		if luns == nil || (luns.Kind == yaml.ScalarNode && luns.Tag == "!!null") {
			if !create {
				return nil, fmt.Errorf("target %q has no luns: %w", tname, errNotInFile)
			}
			if luns == nil {
				luns = &yaml.Node{}
				t.Content = append(t.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "luns"}, luns)
			}
			*luns = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		}
		if luns.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("target %q: luns is not a list", tname)
		}
		return luns, nil
	}
	return nil, fmt.Errorf("target %q: %w", tname, errNotInFile)
}

// mapValue returns the value of key in mapping m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// writeFileAtomic replaces path with data: a temporary file in the same directory is written, synced and
// renamed over path, then the directory is synced. The file keeps its permission bits.
func writeFileAtomic(path string, data []byte) (err error) {
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write config: sync: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write config: sync dir: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("write config: sync dir: %w", err)
	}
	return nil
}
