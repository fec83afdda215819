package capi

// country is one ISO 3166-1 entry with its international dialling code.
type country struct {
	alpha2, alpha3, dial, name string
}

// countries is ISO 3166-1 (all 249 assigned codes) with ITU calling codes.
// Territories that share a numbering plan share its code (the NANP's 1, the
// UK's 44 for the Crown dependencies).
var countries = [...]country{
	{"ad", "and", "376", "Andorra"}, {"ae", "are", "971", "United Arab Emirates"},
	{"af", "afg", "93", "Afghanistan"}, {"ag", "atg", "1", "Antigua and Barbuda"},
	{"ai", "aia", "1", "Anguilla"}, {"al", "alb", "355", "Albania"},
	{"am", "arm", "374", "Armenia"}, {"ao", "ago", "244", "Angola"},
	{"aq", "ata", "672", "Antarctica"}, {"ar", "arg", "54", "Argentina"},
	{"as", "asm", "1", "American Samoa"}, {"at", "aut", "43", "Austria"},
	{"au", "aus", "61", "Australia"}, {"aw", "abw", "297", "Aruba"},
	{"ax", "ala", "358", "Åland Islands"}, {"az", "aze", "994", "Azerbaijan"},
	{"ba", "bih", "387", "Bosnia and Herzegovina"}, {"bb", "brb", "1", "Barbados"},
	{"bd", "bgd", "880", "Bangladesh"}, {"be", "bel", "32", "Belgium"},
	{"bf", "bfa", "226", "Burkina Faso"}, {"bg", "bgr", "359", "Bulgaria"},
	{"bh", "bhr", "973", "Bahrain"}, {"bi", "bdi", "257", "Burundi"},
	{"bj", "ben", "229", "Benin"}, {"bl", "blm", "590", "Saint Barthélemy"},
	{"bm", "bmu", "1", "Bermuda"}, {"bn", "brn", "673", "Brunei Darussalam"},
	{"bo", "bol", "591", "Bolivia"}, {"bq", "bes", "599", "Bonaire, Sint Eustatius and Saba"},
	{"br", "bra", "55", "Brazil"}, {"bs", "bhs", "1", "Bahamas"},
	{"bt", "btn", "975", "Bhutan"}, {"bv", "bvt", "47", "Bouvet Island"},
	{"bw", "bwa", "267", "Botswana"}, {"by", "blr", "375", "Belarus"},
	{"bz", "blz", "501", "Belize"}, {"ca", "can", "1", "Canada"},
	{"cc", "cck", "61", "Cocos (Keeling) Islands"}, {"cd", "cod", "243", "Democratic Republic of the Congo"},
	{"cf", "caf", "236", "Central African Republic"}, {"cg", "cog", "242", "Congo"},
	{"ch", "che", "41", "Switzerland"}, {"ci", "civ", "225", "Côte d'Ivoire"},
	{"ck", "cok", "682", "Cook Islands"}, {"cl", "chl", "56", "Chile"},
	{"cm", "cmr", "237", "Cameroon"}, {"cn", "chn", "86", "China"},
	{"co", "col", "57", "Colombia"}, {"cr", "cri", "506", "Costa Rica"},
	{"cu", "cub", "53", "Cuba"}, {"cv", "cpv", "238", "Cabo Verde"},
	{"cw", "cuw", "599", "Curaçao"}, {"cx", "cxr", "61", "Christmas Island"},
	{"cy", "cyp", "357", "Cyprus"}, {"cz", "cze", "420", "Czechia"},
	{"de", "deu", "49", "Germany"}, {"dj", "dji", "253", "Djibouti"},
	{"dk", "dnk", "45", "Denmark"}, {"dm", "dma", "1", "Dominica"},
	{"do", "dom", "1", "Dominican Republic"}, {"dz", "dza", "213", "Algeria"},
	{"ec", "ecu", "593", "Ecuador"}, {"ee", "est", "372", "Estonia"},
	{"eg", "egy", "20", "Egypt"}, {"eh", "esh", "212", "Western Sahara"},
	{"er", "eri", "291", "Eritrea"}, {"es", "esp", "34", "Spain"},
	{"et", "eth", "251", "Ethiopia"}, {"fi", "fin", "358", "Finland"},
	{"fj", "fji", "679", "Fiji"}, {"fk", "flk", "500", "Falkland Islands"},
	{"fm", "fsm", "691", "Micronesia"}, {"fo", "fro", "298", "Faroe Islands"},
	{"fr", "fra", "33", "France"}, {"ga", "gab", "241", "Gabon"},
	{"gb", "gbr", "44", "United Kingdom"}, {"gd", "grd", "1", "Grenada"},
	{"ge", "geo", "995", "Georgia"}, {"gf", "guf", "594", "French Guiana"},
	{"gg", "ggy", "44", "Guernsey"}, {"gh", "gha", "233", "Ghana"},
	{"gi", "gib", "350", "Gibraltar"}, {"gl", "grl", "299", "Greenland"},
	{"gm", "gmb", "220", "Gambia"}, {"gn", "gin", "224", "Guinea"},
	{"gp", "glp", "590", "Guadeloupe"}, {"gq", "gnq", "240", "Equatorial Guinea"},
	{"gr", "grc", "30", "Greece"}, {"gs", "sgs", "500", "South Georgia and the South Sandwich Islands"},
	{"gt", "gtm", "502", "Guatemala"}, {"gu", "gum", "1", "Guam"},
	{"gw", "gnb", "245", "Guinea-Bissau"}, {"gy", "guy", "592", "Guyana"},
	{"hk", "hkg", "852", "Hong Kong"}, {"hm", "hmd", "672", "Heard Island and McDonald Islands"},
	{"hn", "hnd", "504", "Honduras"}, {"hr", "hrv", "385", "Croatia"},
	{"ht", "hti", "509", "Haiti"}, {"hu", "hun", "36", "Hungary"},
	{"id", "idn", "62", "Indonesia"}, {"ie", "irl", "353", "Ireland"},
	{"il", "isr", "972", "Israel"}, {"im", "imn", "44", "Isle of Man"},
	{"in", "ind", "91", "India"}, {"io", "iot", "246", "British Indian Ocean Territory"},
	{"iq", "irq", "964", "Iraq"}, {"ir", "irn", "98", "Iran"},
	{"is", "isl", "354", "Iceland"}, {"it", "ita", "39", "Italy"},
	{"je", "jey", "44", "Jersey"}, {"jm", "jam", "1", "Jamaica"},
	{"jo", "jor", "962", "Jordan"}, {"jp", "jpn", "81", "Japan"},
	{"ke", "ken", "254", "Kenya"}, {"kg", "kgz", "996", "Kyrgyzstan"},
	{"kh", "khm", "855", "Cambodia"}, {"ki", "kir", "686", "Kiribati"},
	{"km", "com", "269", "Comoros"}, {"kn", "kna", "1", "Saint Kitts and Nevis"},
	{"kp", "prk", "850", "North Korea"}, {"kr", "kor", "82", "South Korea"},
	{"kw", "kwt", "965", "Kuwait"}, {"ky", "cym", "1", "Cayman Islands"},
	{"kz", "kaz", "7", "Kazakhstan"}, {"la", "lao", "856", "Laos"},
	{"lb", "lbn", "961", "Lebanon"}, {"lc", "lca", "1", "Saint Lucia"},
	{"li", "lie", "423", "Liechtenstein"}, {"lk", "lka", "94", "Sri Lanka"},
	{"lr", "lbr", "231", "Liberia"}, {"ls", "lso", "266", "Lesotho"},
	{"lt", "ltu", "370", "Lithuania"}, {"lu", "lux", "352", "Luxembourg"},
	{"lv", "lva", "371", "Latvia"}, {"ly", "lby", "218", "Libya"},
	{"ma", "mar", "212", "Morocco"}, {"mc", "mco", "377", "Monaco"},
	{"md", "mda", "373", "Moldova"}, {"me", "mne", "382", "Montenegro"},
	{"mf", "maf", "590", "Saint Martin"}, {"mg", "mdg", "261", "Madagascar"},
	{"mh", "mhl", "692", "Marshall Islands"}, {"mk", "mkd", "389", "North Macedonia"},
	{"ml", "mli", "223", "Mali"}, {"mm", "mmr", "95", "Myanmar"},
	{"mn", "mng", "976", "Mongolia"}, {"mo", "mac", "853", "Macao"},
	{"mp", "mnp", "1", "Northern Mariana Islands"}, {"mq", "mtq", "596", "Martinique"},
	{"mr", "mrt", "222", "Mauritania"}, {"ms", "msr", "1", "Montserrat"},
	{"mt", "mlt", "356", "Malta"}, {"mu", "mus", "230", "Mauritius"},
	{"mv", "mdv", "960", "Maldives"}, {"mw", "mwi", "265", "Malawi"},
	{"mx", "mex", "52", "Mexico"}, {"my", "mys", "60", "Malaysia"},
	{"mz", "moz", "258", "Mozambique"}, {"na", "nam", "264", "Namibia"},
	{"nc", "ncl", "687", "New Caledonia"}, {"ne", "ner", "227", "Niger"},
	{"nf", "nfk", "672", "Norfolk Island"}, {"ng", "nga", "234", "Nigeria"},
	{"ni", "nic", "505", "Nicaragua"}, {"nl", "nld", "31", "Netherlands"},
	{"no", "nor", "47", "Norway"}, {"np", "npl", "977", "Nepal"},
	{"nr", "nru", "674", "Nauru"}, {"nu", "niu", "683", "Niue"},
	{"nz", "nzl", "64", "New Zealand"}, {"om", "omn", "968", "Oman"},
	{"pa", "pan", "507", "Panama"}, {"pe", "per", "51", "Peru"},
	{"pf", "pyf", "689", "French Polynesia"}, {"pg", "png", "675", "Papua New Guinea"},
	{"ph", "phl", "63", "Philippines"}, {"pk", "pak", "92", "Pakistan"},
	{"pl", "pol", "48", "Poland"}, {"pm", "spm", "508", "Saint Pierre and Miquelon"},
	{"pn", "pcn", "64", "Pitcairn"}, {"pr", "pri", "1", "Puerto Rico"},
	{"ps", "pse", "970", "Palestine"}, {"pt", "prt", "351", "Portugal"},
	{"pw", "plw", "680", "Palau"}, {"py", "pry", "595", "Paraguay"},
	{"qa", "qat", "974", "Qatar"}, {"re", "reu", "262", "Réunion"},
	{"ro", "rou", "40", "Romania"}, {"rs", "srb", "381", "Serbia"},
	{"ru", "rus", "7", "Russia"}, {"rw", "rwa", "250", "Rwanda"},
	{"sa", "sau", "966", "Saudi Arabia"}, {"sb", "slb", "677", "Solomon Islands"},
	{"sc", "syc", "248", "Seychelles"}, {"sd", "sdn", "249", "Sudan"},
	{"se", "swe", "46", "Sweden"}, {"sg", "sgp", "65", "Singapore"},
	{"sh", "shn", "290", "Saint Helena"}, {"si", "svn", "386", "Slovenia"},
	{"sj", "sjm", "47", "Svalbard and Jan Mayen"}, {"sk", "svk", "421", "Slovakia"},
	{"sl", "sle", "232", "Sierra Leone"}, {"sm", "smr", "378", "San Marino"},
	{"sn", "sen", "221", "Senegal"}, {"so", "som", "252", "Somalia"},
	{"sr", "sur", "597", "Suriname"}, {"ss", "ssd", "211", "South Sudan"},
	{"st", "stp", "239", "São Tomé and Príncipe"}, {"sv", "slv", "503", "El Salvador"},
	{"sx", "sxm", "1", "Sint Maarten"}, {"sy", "syr", "963", "Syria"},
	{"sz", "swz", "268", "Eswatini"}, {"tc", "tca", "1", "Turks and Caicos Islands"},
	{"td", "tcd", "235", "Chad"}, {"tf", "atf", "262", "French Southern Territories"},
	{"tg", "tgo", "228", "Togo"}, {"th", "tha", "66", "Thailand"},
	{"tj", "tjk", "992", "Tajikistan"}, {"tk", "tkl", "690", "Tokelau"},
	{"tl", "tls", "670", "Timor-Leste"}, {"tm", "tkm", "993", "Turkmenistan"},
	{"tn", "tun", "216", "Tunisia"}, {"to", "ton", "676", "Tonga"},
	{"tr", "tur", "90", "Türkiye"}, {"tt", "tto", "1", "Trinidad and Tobago"},
	{"tv", "tuv", "688", "Tuvalu"}, {"tw", "twn", "886", "Taiwan"},
	{"tz", "tza", "255", "Tanzania"}, {"ua", "ukr", "380", "Ukraine"},
	{"ug", "uga", "256", "Uganda"}, {"um", "umi", "1", "United States Minor Outlying Islands"},
	{"us", "usa", "1", "United States"}, {"uy", "ury", "598", "Uruguay"},
	{"uz", "uzb", "998", "Uzbekistan"}, {"va", "vat", "39", "Holy See"},
	{"vc", "vct", "1", "Saint Vincent and the Grenadines"}, {"ve", "ven", "58", "Venezuela"},
	{"vg", "vgb", "1", "British Virgin Islands"}, {"vi", "vir", "1", "United States Virgin Islands"},
	{"vn", "vnm", "84", "Viet Nam"}, {"vu", "vut", "678", "Vanuatu"},
	{"wf", "wlf", "681", "Wallis and Futuna"}, {"ws", "wsm", "685", "Samoa"},
	{"ye", "yem", "967", "Yemen"}, {"yt", "myt", "262", "Mayotte"},
	{"za", "zaf", "27", "South Africa"}, {"zm", "zmb", "260", "Zambia"},
	{"zw", "zwe", "263", "Zimbabwe"},
}

// countryAliases are other English names people and networks use, keyed like
// countryByName (see wordKey).
var countryAliases = map[string]string{
	"usa": "us", "unitedstatesamerica": "us", "america": "us", "us": "us",
	"uk": "gb", "greatbritain": "gb", "britain": "gb", "england": "gb", "scotland": "gb",
	"wales": "gb", "northernireland": "gb", "unitedkingdomgreatbritainnorthernireland": "gb",
	"russianfederation": "ru", "korea": "kr", "republickorea": "kr", "southkorea": "kr",
	"democraticpeoplesrepublickorea": "kp", "czechrepublic": "cz", "holland": "nl",
	"vietnam": "vn", "ivorycoast": "ci", "cotedivoire": "ci", "turkey": "tr", "turkiye": "tr",
	"uae": "ae", "drc": "cd", "drcongo": "cd", "congokinshasa": "cd", "congobrazzaville": "cg",
	"republiccongo": "cg", "swaziland": "sz", "macedonia": "mk", "burma": "mm",
	"capeverde": "cv", "easttimor": "tl", "vatican": "va", "vaticancity": "va",
	"brunei": "bn", "macau": "mo", "saintbarthelemy": "bl", "curacao": "cw", "reunion": "re",
	"alandislands": "ax", "saotomeprincipe": "st", "iran": "ir", "islamicrepubliciran": "ir",
	"syrianarabrepublic": "sy", "laopeoplesdemocraticrepublic": "la", "republicmoldova": "md",
	"unitedrepublictanzania": "tz", "bolivarianrepublicvenezuela": "ve",
	"plurinationalstatebolivia": "bo", "statepalestine": "ps", "palestinianterritories": "ps",
	"federatedstatesmicronesia": "fm", "hongkongsar": "hk", "chinesetaipei": "tw",
	"usvirginislands": "vi", "virginislandsus": "vi", "virginislandsbritish": "vg",
	"falklandislandsmalvinas": "fk", "caboverde": "cv", "gambia": "gm", "bahamas": "bs",
	"netherlandsantilles": "cw", "saintmartinfrenchpart": "mf", "sintmaartendutchpart": "sx",
	"deutschland": "de", "espana": "es", "españa": "es", "brasil": "br", "mexique": "mx",
	"österreich": "at", "schweiz": "ch", "suisse": "ch", "italia": "it", "nederland": "nl",
	"polska": "pl", "sverige": "se", "norge": "no", "danmark": "dk", "suomi": "fi",
}

// usStates maps US state, district and territory names and codes (wordKey
// form) to their lowercase two-letter postal codes.
var usStates = map[string]string{}

// usStateNames lists code and name of every US state, DC and the inhabited
// territories with their own postal codes.
var usStateNames = [...][2]string{
	{"al", "Alabama"}, {"ak", "Alaska"}, {"az", "Arizona"}, {"ar", "Arkansas"},
	{"ca", "California"}, {"co", "Colorado"}, {"ct", "Connecticut"}, {"de", "Delaware"},
	{"fl", "Florida"}, {"ga", "Georgia"}, {"hi", "Hawaii"}, {"id", "Idaho"},
	{"il", "Illinois"}, {"in", "Indiana"}, {"ia", "Iowa"}, {"ks", "Kansas"},
	{"ky", "Kentucky"}, {"la", "Louisiana"}, {"me", "Maine"}, {"md", "Maryland"},
	{"ma", "Massachusetts"}, {"mi", "Michigan"}, {"mn", "Minnesota"}, {"ms", "Mississippi"},
	{"mo", "Missouri"}, {"mt", "Montana"}, {"ne", "Nebraska"}, {"nv", "Nevada"},
	{"nh", "New Hampshire"}, {"nj", "New Jersey"}, {"nm", "New Mexico"}, {"ny", "New York"},
	{"nc", "North Carolina"}, {"nd", "North Dakota"}, {"oh", "Ohio"}, {"ok", "Oklahoma"},
	{"or", "Oregon"}, {"pa", "Pennsylvania"}, {"ri", "Rhode Island"}, {"sc", "South Carolina"},
	{"sd", "South Dakota"}, {"tn", "Tennessee"}, {"tx", "Texas"}, {"ut", "Utah"},
	{"vt", "Vermont"}, {"va", "Virginia"}, {"wa", "Washington"}, {"wv", "West Virginia"},
	{"wi", "Wisconsin"}, {"wy", "Wyoming"}, {"dc", "District of Columbia"},
	{"pr", "Puerto Rico"}, {"gu", "Guam"}, {"vi", "US Virgin Islands"},
	{"as", "American Samoa"}, {"mp", "Northern Mariana Islands"},
}

var (
	countryByAlpha2 = map[string]*country{}
	countryByAlpha3 = map[string]string{}
	countryByName   = map[string]string{}
)

func init() {
	for i := range countries {
		c := &countries[i]
		countryByAlpha2[c.alpha2] = c
		countryByAlpha3[c.alpha3] = c.alpha2
		countryByName[wordKey(c.name)] = c.alpha2
	}
	for k, v := range countryAliases {
		countryByName[k] = v
	}
	for _, s := range usStateNames {
		usStates[s[0]] = s[0]
		usStates[wordKey(s[1])] = s[0]
	}
	usStates["washingtondc"] = "dc"
	usStates["virginislands"] = "vi"
}
