package datalocation

import "errors"

// ErrNotFound reports that the file does not exist in the file system a
// Locator speaks for (including names outside the part of the namespace it
// serves). Locators wrap it; test with errors.Is.
var ErrNotFound = errors.New("file not found")

// ErrBadRange reports a byte range a Locator cannot answer: a negative offset.
var ErrBadRange = errors.New("bad byte range")
