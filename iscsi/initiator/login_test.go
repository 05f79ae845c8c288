package initiator

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
)

func TestCHAP(t *testing.T) {
	initSecret := &login.CHAPSecret{User: "alice", Secret: "initiator-secret-16"}
	tgtSecret := &login.CHAPSecret{User: "tgt", Secret: "target-secret-16ch"}
	tests := []struct {
		name          string
		chap, mutual  *login.CHAPSecret // initiator side
		tchap, tmut   *login.CHAPSecret // target side
		wantErr       error
		wantLoginFail bool
	}{
		{name: "none"},
		{name: "one-way", chap: initSecret, tchap: initSecret},
		{name: "mutual", chap: initSecret, mutual: tgtSecret, tchap: initSecret, tmut: tgtSecret},
		{name: "wrong initiator secret", chap: &login.CHAPSecret{User: "alice", Secret: "wrong-secret-123456"},
			tchap: initSecret, wantErr: login.ErrAuth},
		{name: "wrong user", chap: &login.CHAPSecret{User: "mallory", Secret: initSecret.Secret},
			tchap: initSecret, wantErr: login.ErrAuth},
		{name: "wrong target secret", chap: initSecret, mutual: tgtSecret, tchap: initSecret,
			tmut: &login.CHAPSecret{User: "tgt", Secret: "impostor-secret-123"}, wantErr: login.ErrAuth},
		{name: "target wants CHAP, initiator has none", tchap: initSecret, wantLoginFail: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := startTarget(t, targetOpts{chap: tc.tchap, mutualCHAP: tc.tmut})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := Dial(ctx, Options{Address: tt.addr, TargetName: testIQN, CHAP: tc.chap, MutualCHAP: tc.mutual})
			if tc.wantErr == nil && !tc.wantLoginFail {
				if err != nil {
					t.Fatalf("login: %v", err)
				}
				defer s.Close()
				if err := s.NOP(ctx); err != nil {
					t.Fatalf("nop after login: %v", err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("login succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestLoginTargetNotFound(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	ctx := testCtx(t)
	_, err := Dial(ctx, Options{Address: tt.addr, TargetName: "iqn.2026-11.dev.xtgt:nope"})
	var se *login.StatusError
	if !errors.As(err, &se) || se.Status != login.StatusTargetNotFound {
		t.Fatalf("error %v, want target not found", err)
	}
}

func TestDigests(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	for _, d := range []struct{ h, d bool }{{true, true}, {true, false}, {false, true}} {
		s := tt.dial(t, Options{HeaderDigest: d.h, DataDigest: d.d})
		p := s.Params()
		if p.HeaderDigest != d.h || p.DataDigest != d.d {
			t.Fatalf("negotiated header %v data %v, want %v %v", p.HeaderDigest, p.DataDigest, d.h, d.d)
		}
		ctx := testCtx(t)
		_ = s.TestUnitReady(ctx, 0)
		for _, size := range []int{512, 4096, 1 << 20} {
			w := make([]byte, size)
			pattern(w, 100, byte(size))
			if err := s.WriteAt(ctx, 0, 100, w, true); err != nil {
				t.Fatal(err)
			}
			r := make([]byte, size)
			if err := s.ReadAt(ctx, 0, 100, r); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r, w) {
				t.Fatalf("digests %+v size %d: data mismatch", d, size)
			}
		}
		if err := s.Logout(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDiscovery(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	got, err := Discover(testCtx(t), tt.addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != testIQN || len(got[0].Addresses) == 0 {
		t.Fatalf("discovered %+v", got)
	}
	if hp := HostPort(got[0].Addresses[0]); hp != tt.addr {
		t.Fatalf("address %q, want %q", hp, tt.addr)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		want    URL
		wantErr bool
	}{
		{in: "iscsi://127.0.0.1/iqn.2026-11.dev.xtgt:a/3", want: URL{Address: "127.0.0.1:3260", TargetName: "iqn.2026-11.dev.xtgt:a", LUN: 3}},
		{in: "iscsi://h:3261/iqn.x:y/0", want: URL{Address: "h:3261", TargetName: "iqn.x:y"}},
		{in: "iscsi://[::1]:3262/iqn.x:y/1", want: URL{Address: "[::1]:3262", TargetName: "iqn.x:y", LUN: 1}},
		{in: "iscsi://[::1]/iqn.x:y", want: URL{Address: "[::1]:3260", TargetName: "iqn.x:y"}},
		{in: "iscsi://bob%s3cr%t@h/iqn.x:y/2", want: URL{Address: "h:3260", TargetName: "iqn.x:y", LUN: 2,
			CHAP: &login.CHAPSecret{User: "bob", Secret: "s3cr%t"}}},
		{in: "iscsi://h/iqn.x:y/0?target_user=t&target_password=p", want: URL{Address: "h:3260", TargetName: "iqn.x:y",
			MutualCHAP: &login.CHAPSecret{User: "t", Secret: "p"}}},
		{in: "http://h/iqn.x:y/0", wantErr: true},
		{in: "iscsi://h", wantErr: true},
		{in: "iscsi:///iqn.x:y/0", wantErr: true},
		{in: "iscsi://h/iqn.x:y/zero", wantErr: true},
		{in: "iscsi://bob@h/iqn.x:y/0", wantErr: true},
	}
	for _, tc := range tests {
		got, err := ParseURL(tc.in)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%q: error %v", tc.in, err)
		}
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("%q: error %v does not match ErrBadURL", tc.in, err)
			}
			continue
		}
		if got.Address != tc.want.Address || got.TargetName != tc.want.TargetName || got.LUN != tc.want.LUN ||
			!sameSecret(got.CHAP, tc.want.CHAP) || !sameSecret(got.MutualCHAP, tc.want.MutualCHAP) {
			t.Fatalf("%q: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func sameSecret(a, b *login.CHAPSecret) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"iscsi://127.0.0.1/iqn.2026-11.dev.xtgt:a/3", "iscsi://u%p@[::1]:1/i/2?target_user=a",
		"iscsi://@/", "iscsi://h/i/99999999999999999999999", "iscsi://%@h/i/0?%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err == nil && (u.Address == "" || u.TargetName == "") {
			t.Fatalf("%q parsed to %+v", s, u)
		}
	})
}
