package configs

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// need returns the entry for section.key or an error wrapping ErrNotSet.
func (c *Config) need(section, key string) (*entry, error) {
	if e := c.lookup(section, key); e != nil {
		return e, nil
	}
	return nil, fmt.Errorf("read %s.%s: %w", section, key, ErrNotSet)
}

func bad(section string, e *entry, accepted string) error {
	return &ValueError{Section: section, Key: e.name, Value: e.value, Origin: e.origin, Accepted: accepted}
}

// Int returns section.key as a base-10 integer.
func (c *Config) Int(section, key string) (int, error) {
	e, err := c.need(section, key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(e.value)
	if err != nil {
		return 0, bad(section, e, "a whole number such as 8")
	}
	return n, nil
}

// Float returns section.key as a finite number.
func (c *Config) Float(section, key string) (float64, error) {
	e, err := c.need(section, key)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(e.value, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, bad(section, e, "a number such as 30 or 0.5")
	}
	return f, nil
}

// Bool returns section.key read as Tashi's boolean(): yes, true, 1 or on,
// and no, false, 0 or off, in any case.
func (c *Config) Bool(section, key string) (bool, error) {
	e, err := c.need(section, key)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(e.value) {
	case "yes", "true", "1", "on":
		return true, nil
	case "no", "false", "0", "off":
		return false, nil
	}
	return false, bad(section, e, "yes, true, 1, on, no, false, 0 or off (any case)")
}

// Duration returns section.key as a non-negative duration. A plain number is
// seconds, as in Tashi ("30", "0.5"); a Go duration ("500ms", "2m") also works.
func (c *Config) Duration(section, key string) (time.Duration, error) {
	e, err := c.need(section, key)
	if err != nil {
		return 0, err
	}
	const accepted = "seconds as a number such as 30 or 0.5, or a Go duration such as 500ms or 2m; not negative"
	if f, err := strconv.ParseFloat(e.value, 64); err == nil {
		ns := math.Round(f * float64(time.Second))
		if math.IsNaN(ns) || ns < 0 || ns >= math.MaxInt64 {
			return 0, bad(section, e, accepted)
		}
		return time.Duration(ns), nil
	}
	d, err := time.ParseDuration(e.value)
	if err != nil || d < 0 {
		return 0, bad(section, e, accepted)
	}
	return d, nil
}
