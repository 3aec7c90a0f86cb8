package dnsserver

import "net/netip"

// placeRecord is the part of a GeoLite2-City record that names a place.
type placeRecord struct {
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
}

// place returns the English name of addr's city and the ISO 3166-1 code of
// its country, for explain: the query path decodes coordinates only.
func (g *GeoDB) place(addr netip.Addr) (city, country string) {
	var rec placeRecord
	if err := g.db.Load().Lookup(addr).Decode(&rec); err != nil {
		return "", ""
	}
	return rec.City.Names["en"], rec.Country.ISOCode
}
