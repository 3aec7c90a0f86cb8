package plugin

// The zone's DNSSEC key set, as install makes it and check and rotate-key
// read it: one Secret in the host's kfed-dns, which every coredns-fed of
// the federation reads, and nothing else may. The keys are never printed.

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/dnssec"
	"github.com/kfed-dev/kfed/pkg/store"
)

// keySetSecret is the key set and the Secret it was read from, whose
// resourceVersion guards the next write.
type keySetSecret struct {
	set    *dnssec.KeySet
	secret *corev1.Secret
}

// readKeySet reads the federation's key set; nil, nil when there is none.
func readKeySet(ctx context.Context, s *store.Store) (*keySetSecret, error) {
	secret, err := s.Kube.CoreV1().Secrets(s.DNSNamespace).Get(ctx, dnssec.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the DNSSEC key set, Secret %s/%s: %w", s.DNSNamespace, dnssec.SecretName, err)
	}
	ks, err := dnssec.Load(secret.Data[dnssec.SecretKey])
	if err != nil {
		return nil, fmt.Errorf("the DNSSEC key set in Secret %s/%s: %w", s.DNSNamespace, dnssec.SecretName, err)
	}
	return &keySetSecret{set: ks, secret: secret}, nil
}

// createKeySet generates a KSK and a ZSK of algorithm and writes them into
// the key set's Secret, which must not exist yet.
func createKeySet(ctx context.Context, s *store.Store, federation string, algorithm uint8) (*keySetSecret, error) {
	ks, err := dnssec.NewKeySet(algorithm, time.Now())
	if err != nil {
		return nil, err
	}
	data, err := ks.Encode()
	if err != nil {
		return nil, err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: dnssec.SecretName, Namespace: s.DNSNamespace, Labels: dnssec.SecretLabels(federation)},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{dnssec.SecretKey: data},
	}
	created, err := s.Kube.CoreV1().Secrets(s.DNSNamespace).Create(ctx, secret, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("writing the DNSSEC key set, Secret %s/%s: %w", s.DNSNamespace, dnssec.SecretName, err)
	}
	return &keySetSecret{set: ks, secret: created}, nil
}

// writeKeySet writes ks over the Secret it was read from; a conflict means
// someone else changed the set meanwhile, and is returned as it is.
func writeKeySet(ctx context.Context, s *store.Store, ks *keySetSecret) error {
	data, err := ks.set.Encode()
	if err != nil {
		return err
	}
	secret := ks.secret.DeepCopy()
	secret.Data = map[string][]byte{dnssec.SecretKey: data}
	updated, err := s.Kube.CoreV1().Secrets(s.DNSNamespace).Update(ctx, secret, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return fmt.Errorf("writing the DNSSEC key set, Secret %s/%s: %w", s.DNSNamespace, dnssec.SecretName, err)
	}
	ks.secret = updated
	return nil
}

// printDS writes the DS records of the set's KSKs for the parent zone.
func printDS(w io.Writer, domain string, ks *dnssec.KeySet, ttl uint32) error {
	keys, err := parentKeys(ks, domain)
	if err != nil {
		return err
	}
	for _, pub := range keys {
		ds := dnssec.DS(domain, pub, ttl)
		fmt.Fprintf(w, "%s.\tIN\tDS\t%d %d %d %s\n", domain, ds.KeyTag, ds.Algorithm, ds.DigestType, ds.Digest)
	}
	return nil
}

// parentKeys returns, owned by domain, the KSKs of the set that the
// parent's DS should point at (dnssec.KeySet.ForParent).
func parentKeys(ks *dnssec.KeySet, domain string) ([]*dns.DNSKEY, error) {
	var out []*dns.DNSKEY
	for _, k := range ks.ForParent() {
		pub, _, err := k.Parse()
		if err != nil {
			return nil, err
		}
		pub.Hdr.Name = dns.Fqdn(domain)
		out = append(out, pub)
	}
	return out, nil
}

// prepareDNSSEC reads the key set, and with --dnssec makes it when there
// is none. Without --dnssec, an existing key set is an error: the parent
// may hold its DS, and unsigned answers would then fail validation. To
// stop signing, --dnssec=false says so, once the DS is gone from the
// parent.
func (o *DNSInstallOptions) prepareDNSSEC(ctx context.Context) error {
	ks, err := readKeySet(ctx, o.store)
	switch {
	case err != nil && (o.DNSSEC || !o.dnssecGiven):
		return err
	case !o.DNSSEC && ks != nil && !o.dnssecGiven:
		return fmt.Errorf("the zone is signed (Secret %s/%s holds its keys): pass --dnssec to keep signing it; to stop, remove the DS records from the parent zone, wait for their TTL, and run install with --dnssec=false",
			o.store.DNSNamespace, dnssec.SecretName)
	case !o.DNSSEC:
		return nil
	case ks == nil:
		if ks, err = createKeySet(ctx, o.store, o.federation.Name, o.algorithm); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "Made the zone's DNSSEC keys (%s) in Secret %s/%s\n", dns.AlgorithmToString[o.algorithm], o.store.DNSNamespace, dnssec.SecretName)
	}
	o.keys = ks
	return nil
}
