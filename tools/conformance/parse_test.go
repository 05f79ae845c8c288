package main

import "testing"

func TestParse(t *testing.T) {
	out := `Suite: iSCSIdatasn
  Test: iSCSIDataSnInvalid ...    [FAILED] WRITE10 command failed with status 2
    [FAILED] WRITE10 command failed with status 2
passed    [SKIPPED] PERSISTENT RESERVE IN is not implemented.
  Test: Simple ...passed
  Test: Skip ...    [SKIPPED] SANITIZE is not implemented.
passed
  Test: Bad ...    SWP is not changeable
FAILED
    1. test_sanitize_readonly.c:60  - CU_ASSERT_EQUAL(ret,0)
  Test: Cut ...

Run Summary:    Type  Total    Ran Passed Failed Inactive
`
	want := []result{
		{"S", "iSCSIDataSnInvalid", "passed", ""},
		{"S", "Simple", "passed", ""},
		{"S", "Skip", "skipped", "SANITIZE is not implemented."},
		{"S", "Bad", "failed", "1. test_sanitize_readonly.c:60 - CU_ASSERT_EQUAL(ret,0)"},
		{"S", "Cut", "error", "no result (suite interrupted)"},
	}
	got := parse("S", out)
	if len(got) != len(want) {
		t.Fatalf("got %d results: %+v", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
