package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for the meridian binary: a
// command run by a test (the cheat sheet's `meridian explain`) calls the
// test binary with MERIDIAN_TEST_MAIN=1.
func TestMain(m *testing.M) {
	if os.Getenv("MERIDIAN_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}
