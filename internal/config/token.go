package config

import (
	"fmt"

	"github.com/hoist-dev/hoist/internal/tokenfile"
)

// Token returns the release repository's token from token_file, "" when
// none is set. The file must be private to its owner (root).
func (c Config) Token() (string, error) {
	if c.TokenFile == "" {
		return "", nil
	}
	tok, err := tokenfile.ReadPrivate(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("config token_file: %w", err)
	}
	return tok, nil
}
