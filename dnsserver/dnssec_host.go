package dnsserver

import (
	"bytes"

	"github.com/kfed-dev/kfed/pkg/dnssec"
)

// followKeys hands the key set of the host's Secret, when it changed, to
// every attached Fed that signs with the host's keys. A set that cannot
// sign is logged, by the Secret's name and what is wrong, never by its
// content, and the keys before it kept: a bad write must not stop the
// signing of a zone whose parent holds its DS.
func (c *controller) followKeys(data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.Equal(data, c.keyData) && (data != nil || c.keyData == nil) {
		return
	}
	c.keyData = bytes.Clone(data)
	secret := c.opts.SecretsNamespace + "/" + dnssec.SecretName
	if data == nil {
		if c.signsWithHostKeys() {
			log.Warningf("DNSSEC: the key set's Secret %s is missing: signing with the keys last read, if any (kubectl fed dns install --dnssec makes it)", secret)
		}
		return
	}
	ks, err := dnssec.Load(data)
	if err != nil {
		log.Errorf("DNSSEC: the key set in Secret %s cannot sign: %v; signing with the keys last read, if any", secret, err)
		return
	}
	c.keys = ks
	for _, f := range c.feds {
		f.useHostKeys(ks)
	}
	log.Infof("DNSSEC: signing with the key set of Secret %s: %s", secret, ks.Describe())
}

// signsWithHostKeys reports whether an attached Fed signs with the host's
// keys. The caller holds c.mu.
func (c *controller) signsWithHostKeys() bool {
	for _, f := range c.feds {
		if f.signer != nil && f.DNSSEC.File == "" {
			return true
		}
	}
	return false
}

// useHostKeys makes f sign with ks, when it signs with the host's keys.
func (f *Fed) useHostKeys(ks *dnssec.KeySet) {
	if f.signer == nil || f.DNSSEC.File != "" {
		return
	}
	if err := f.signer.setKeys(ks); err != nil {
		log.Errorf("DNSSEC: %v", err)
	}
}
