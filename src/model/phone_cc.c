/*
 * The assigned ITU-T E.164 country calling codes (ITU-T E.164 Annex to ITU
 * Operational Bulletin, "List of ITU-T Recommendation E.164 assigned country
 * codes"), used to split an international number into country code and
 * national number.
 *
 * Geographic codes and the global services that are assigned (freephone,
 * shared cost, satellite and international networks, premium rate) are
 * listed; spare codes, reserved codes and codes withdrawn when their
 * territory joined another plan (e.g. 671 Guam and 684 American Samoa, now
 * in +1) are not.
 *
 * Invariant: the codes are prefix-free (no assigned code is a prefix of
 * another), so a number starts with at most one of them, and a code's value
 * alone identifies its length (1-9, 10-99 or 100-999).  The table is sorted
 * by value for binary search.
 */
#include <stdlib.h>

#include "model_int.h"

static const uint16_t cc_table[] = {
    /* zone 1: North American Numbering Plan; zone 7: Russia, Kazakhstan */
    1, 7,
    /* zones 2-9, two-digit codes */
    20, /* Egypt */
    27, /* South Africa */
    30, /* Greece */
    31, /* Netherlands */
    32, /* Belgium */
    33, /* France */
    34, /* Spain */
    36, /* Hungary */
    39, /* Italy, Vatican */
    40, /* Romania */
    41, /* Switzerland */
    43, /* Austria */
    44, /* United Kingdom */
    45, /* Denmark */
    46, /* Sweden */
    47, /* Norway */
    48, /* Poland */
    49, /* Germany */
    51, /* Peru */
    52, /* Mexico */
    53, /* Cuba */
    54, /* Argentina */
    55, /* Brazil */
    56, /* Chile */
    57, /* Colombia */
    58, /* Venezuela */
    60, /* Malaysia */
    61, /* Australia */
    62, /* Indonesia */
    63, /* Philippines */
    64, /* New Zealand */
    65, /* Singapore */
    66, /* Thailand */
    81, /* Japan */
    82, /* Korea (Republic of) */
    84, /* Viet Nam */
    86, /* China */
    90, /* Türkiye */
    91, /* India */
    92, /* Pakistan */
    93, /* Afghanistan */
    94, /* Sri Lanka */
    95, /* Myanmar */
    98, /* Iran */
    /* zone 2, three-digit codes */
    211, /* South Sudan */
    212, /* Morocco */
    213, /* Algeria */
    216, /* Tunisia */
    218, /* Libya */
    220, /* Gambia */
    221, /* Senegal */
    222, /* Mauritania */
    223, /* Mali */
    224, /* Guinea */
    225, /* Côte d'Ivoire */
    226, /* Burkina Faso */
    227, /* Niger */
    228, /* Togo */
    229, /* Benin */
    230, /* Mauritius */
    231, /* Liberia */
    232, /* Sierra Leone */
    233, /* Ghana */
    234, /* Nigeria */
    235, /* Chad */
    236, /* Central African Republic */
    237, /* Cameroon */
    238, /* Cabo Verde */
    239, /* Sao Tome and Principe */
    240, /* Equatorial Guinea */
    241, /* Gabon */
    242, /* Congo */
    243, /* Democratic Republic of the Congo */
    244, /* Angola */
    245, /* Guinea-Bissau */
    246, /* Diego Garcia */
    247, /* Ascension */
    248, /* Seychelles */
    249, /* Sudan */
    250, /* Rwanda */
    251, /* Ethiopia */
    252, /* Somalia */
    253, /* Djibouti */
    254, /* Kenya */
    255, /* Tanzania */
    256, /* Uganda */
    257, /* Burundi */
    258, /* Mozambique */
    260, /* Zambia */
    261, /* Madagascar */
    262, /* Réunion, Mayotte */
    263, /* Zimbabwe */
    264, /* Namibia */
    265, /* Malawi */
    266, /* Lesotho */
    267, /* Botswana */
    268, /* Eswatini */
    269, /* Comoros */
    290, /* Saint Helena, Tristan da Cunha */
    291, /* Eritrea */
    297, /* Aruba */
    298, /* Faroe Islands */
    299, /* Greenland */
    /* zone 3 */
    350, /* Gibraltar */
    351, /* Portugal */
    352, /* Luxembourg */
    353, /* Ireland */
    354, /* Iceland */
    355, /* Albania */
    356, /* Malta */
    357, /* Cyprus */
    358, /* Finland, Åland */
    359, /* Bulgaria */
    370, /* Lithuania */
    371, /* Latvia */
    372, /* Estonia */
    373, /* Moldova */
    374, /* Armenia */
    375, /* Belarus */
    376, /* Andorra */
    377, /* Monaco */
    378, /* San Marino */
    379, /* Vatican City State */
    380, /* Ukraine */
    381, /* Serbia */
    382, /* Montenegro */
    383, /* Kosovo */
    385, /* Croatia */
    386, /* Slovenia */
    387, /* Bosnia and Herzegovina */
    389, /* North Macedonia */
    /* zone 4 */
    420, /* Czechia */
    421, /* Slovakia */
    423, /* Liechtenstein */
    /* zone 5 */
    500, /* Falkland Islands */
    501, /* Belize */
    502, /* Guatemala */
    503, /* El Salvador */
    504, /* Honduras */
    505, /* Nicaragua */
    506, /* Costa Rica */
    507, /* Panama */
    508, /* Saint Pierre and Miquelon */
    509, /* Haiti */
    590, /* Guadeloupe, Saint Barthélemy, Saint Martin */
    591, /* Bolivia */
    592, /* Guyana */
    593, /* Ecuador */
    594, /* French Guiana */
    595, /* Paraguay */
    596, /* Martinique */
    597, /* Suriname */
    598, /* Uruguay */
    599, /* Curaçao, Caribbean Netherlands */
    /* zone 6 */
    670, /* Timor-Leste */
    672, /* Australian External Territories */
    673, /* Brunei Darussalam */
    674, /* Nauru */
    675, /* Papua New Guinea */
    676, /* Tonga */
    677, /* Solomon Islands */
    678, /* Vanuatu */
    679, /* Fiji */
    680, /* Palau */
    681, /* Wallis and Futuna */
    682, /* Cook Islands */
    683, /* Niue */
    685, /* Samoa */
    686, /* Kiribati */
    687, /* New Caledonia */
    688, /* Tuvalu */
    689, /* French Polynesia */
    690, /* Tokelau */
    691, /* Micronesia */
    692, /* Marshall Islands */
    /* zone 8 */
    800, /* International Freephone Service */
    808, /* International Shared Cost Service */
    850, /* Democratic People's Republic of Korea */
    852, /* Hong Kong, China */
    853, /* Macao, China */
    855, /* Cambodia */
    856, /* Lao P.D.R. */
    870, /* Inmarsat SNAC */
    878, /* Universal Personal Telecommunication Service */
    880, /* Bangladesh */
    881, /* Global Mobile Satellite System */
    882, /* International Networks */
    883, /* International Networks */
    886, /* Taiwan, China */
    888, /* Telecommunications for Disaster Relief (OCHA) */
    /* zone 9, three-digit codes */
    960, /* Maldives */
    961, /* Lebanon */
    962, /* Jordan */
    963, /* Syria */
    964, /* Iraq */
    965, /* Kuwait */
    966, /* Saudi Arabia */
    967, /* Yemen */
    968, /* Oman */
    970, /* Palestine */
    971, /* United Arab Emirates */
    972, /* Israel */
    973, /* Bahrain */
    974, /* Qatar */
    975, /* Bhutan */
    976, /* Mongolia */
    977, /* Nepal */
    979, /* International Premium Rate Service */
    992, /* Tajikistan */
    993, /* Turkmenistan */
    994, /* Azerbaijan */
    995, /* Georgia */
    996, /* Kyrgyzstan */
    998, /* Uzbekistan */
};

static int cc_cmp(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

    return (x > y) - (x < y);
}

/* True when `value` is an assigned country code. */
static int cc_assigned(unsigned value)
{
    uint16_t key = (uint16_t)value;

    return bsearch(&key, cc_table, sizeof(cc_table) / sizeof(cc_table[0]), sizeof(cc_table[0]),
                   cc_cmp) != NULL;
}

size_t model_cc_len(const char *digits, size_t n)
{
    unsigned value = 0;
    size_t i, max = n < 3 ? n : 3, found = 0;

    /* A code never starts with 0, so the value of i digits has exactly i digits. */
    if (n == 0 || digits[0] < '1' || digits[0] > '9')
        return 0;
    for (i = 0; i < max; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            break;
        value = value * 10 + (unsigned)(digits[i] - '0');
        if (cc_assigned(value))
            found = i + 1; /* keep going: the longest match wins */
    }
    return found;
}
