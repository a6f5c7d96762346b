//go:build tools

// Package tools only anchors the module; the build target is the CLI's main package.
package tools
