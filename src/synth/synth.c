/*
 * Synthetic customers (see synth.h).
 *
 * Every record is drawn from its own splitmix64 stream, seeded from (seed,
 * index) alone, so record `index` never depends on what was generated before
 * it.  All tables are static const; generating a record allocates only the
 * strings it hands to the caller.
 *
 * Device identifiers are unique by construction rather than by luck: the
 * (TAC, 6-digit serial number) pair of an IMEI is the image of the device's
 * slot number under a seed-keyed permutation of the whole TAC x serial space
 * (see device_imei), so no two devices of one stream share an IMEI as long as
 * the stream has fewer than DEV_SPACE2 / 2 (about eight million) customers;
 * beyond that, IMEIs start repeating.
 */
#include "synth.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Random numbers                                                           */
/* ------------------------------------------------------------------------ */

uint64_t synth_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A uniform number in [0, n), n < 2^32 (multiply-shift, no division). */
static uint32_t rnd_below(uint64_t *st, uint32_t n)
{
    return (uint32_t)(((synth_rand(st) >> 32) * n) >> 32);
}

/* A uniform number in [lo, hi]. */
static int32_t rnd_range(uint64_t *st, int32_t lo, int32_t hi)
{
    return lo + (int32_t)rnd_below(st, (uint32_t)(hi - lo) + 1);
}

/* True with probability permille / 1000. */
static bool rnd_chance(uint64_t *st, uint32_t permille)
{
    return rnd_below(st, 1000) < permille;
}

/*
 * Index into `w` (n weights summing to `total`, a compile-time constant of
 * the table) drawn proportionally to the weights.
 */
static size_t rnd_weighted(uint64_t *st, const uint16_t *w, size_t n, uint32_t total)
{
    uint32_t r = rnd_below(st, total);
    size_t i;

    for (i = 0; i + 1 < n && r >= w[i]; i++)
        r -= w[i];
    return i;
}

#define RND_PICK(st, tab) (&(tab)[rnd_below((st), (uint32_t)CU_ARRAY_LEN(tab))])

/* ------------------------------------------------------------------------ */
/* Small string builder on the stack                                        */
/* ------------------------------------------------------------------------ */

#define SB_CAP 256

struct sb {
    char b[SB_CAP];
    size_t n;
};

/*
 * Byte by byte: the strings are short, and this beats strlen + memcpy.  The
 * length is kept in a local, as stores through s->b (char) could alias s->n.
 */
static void sb_str(struct sb *s, const char *p)
{
    size_t n = s->n;

    while (*p != '\0' && n < SB_CAP - 1)
        s->b[n++] = *p++;
    s->n = n;
}

static void sb_ch(struct sb *s, char c)
{
    if (s->n < SB_CAP - 1)
        s->b[s->n++] = c;
}

/* Appends `v` in decimal, zero-padded to at least `width` digits. */
static void sb_num(struct sb *s, uint64_t v, int width)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    uint64_t t = v;
    size_t n = 1, end;
    char *p;

    while (t >= 10) {
        t /= 10;
        n++;
    }
    if (n < (size_t)width)
        n = (size_t)width;
    if (n > SB_CAP - 1 - s->n)
        return; /* never happens with these tables */
    end = s->n + n;
    p = s->b + end;
    while (v >= 100) { /* two digits at a time, from the right */
        size_t d = (size_t)(v % 100) * 2;

        v /= 100;
        *--p = pairs[d + 1];
        *--p = pairs[d];
    }
    if (v >= 10) {
        *--p = pairs[v * 2 + 1];
        *--p = pairs[v * 2];
    } else {
        *--p = (char)('0' + v);
    }
    while (p > s->b + s->n)
        *--p = '0';
    s->n = end;
}

/* Appends `p` lower-cased, keeping only ASCII letters and digits. */
static void sb_ascii_lower(struct sb *s, const char *p)
{
    for (; *p != '\0'; p++) {
        char c = *p;

        if (c >= 'A' && c <= 'Z')
            sb_ch(s, (char)(c - 'A' + 'a'));
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            sb_ch(s, c);
    }
}

/* A newly allocated copy of the built string; the caller owns it. */
static char *sb_dup(const struct sb *s)
{
    return xstrndup(s->b, s->n);
}

/* ------------------------------------------------------------------------ */
/* Dates (days since 1970-01-01, proleptic Gregorian)                       */
/* ------------------------------------------------------------------------ */

static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
    int era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

static void civil_from_days(int32_t z, int *year, unsigned *month, unsigned *day)
{
    int era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)yoe + era * 400 + (*month <= 2);
}

/* Appends the day as YYYY-MM-DD. */
static void sb_date(struct sb *s, int32_t z)
{
    int y;
    unsigned m, d;

    civil_from_days(z, &y, &m, &d);
    sb_num(s, (uint64_t)y, 4);
    sb_ch(s, '-');
    sb_num(s, m, 2);
    sb_ch(s, '-');
    sb_num(s, d, 2);
}

/* ------------------------------------------------------------------------ */
/* Chinese names                                                            */
/* ------------------------------------------------------------------------ */

struct hanzi {
    const char *hz; /* the character(s), UTF-8 */
    const char *py; /* pinyin without tones, lower case, ASCII */
};

#define HANZI_ENTRY(hz, py, w)  {hz, py},
#define HANZI_WEIGHT(hz, py, w) w,
#define HANZI_SUM(hz, py, w)    +(w)

/*
 * Common surnames, weighted roughly by their share of the population (in
 * hundredths of a percent).
 */
#define CN_SURNAMES(X)                                                                             \
    X("王", "wang", 712)                                                                           \
    X("李", "li", 700)                                                                             \
    X("张", "zhang", 674)                                                                          \
    X("刘", "liu", 538)                                                                            \
    X("陈", "chen", 453)                                                                           \
    X("杨", "yang", 308)                                                                           \
    X("黄", "huang", 223)                                                                          \
    X("赵", "zhao", 229)                                                                           \
    X("吴", "wu", 205)                                                                             \
    X("周", "zhou", 193)                                                                           \
    X("徐", "xu", 145)                                                                             \
    X("孙", "sun", 138)                                                                            \
    X("马", "ma", 129)                                                                             \
    X("朱", "zhu", 126)                                                                            \
    X("胡", "hu", 116)                                                                             \
    X("郭", "guo", 115)                                                                            \
    X("何", "he", 105)                                                                             \
    X("林", "lin", 100)                                                                            \
    X("高", "gao", 100)                                                                            \
    X("罗", "luo", 87)                                                                             \
    X("郑", "zheng", 84)                                                                           \
    X("梁", "liang", 83)                                                                           \
    X("谢", "xie", 76)                                                                             \
    X("宋", "song", 71)                                                                            \
    X("唐", "tang", 70)                                                                            \
    X("许", "xu", 67)                                                                              \
    X("韩", "han", 64)                                                                             \
    X("冯", "feng", 61)                                                                            \
    X("邓", "deng", 61)                                                                            \
    X("曹", "cao", 60)                                                                             \
    X("彭", "peng", 58)                                                                            \
    X("曾", "zeng", 55)                                                                            \
    X("肖", "xiao", 54)                                                                            \
    X("田", "tian", 51)                                                                            \
    X("董", "dong", 50)                                                                            \
    X("袁", "yuan", 49)                                                                            \
    X("潘", "pan", 48)                                                                             \
    X("于", "yu", 47)                                                                              \
    X("蒋", "jiang", 46)                                                                           \
    X("蔡", "cai", 45)                                                                             \
    X("余", "yu", 44)                                                                              \
    X("杜", "du", 43)                                                                              \
    X("叶", "ye", 42)                                                                              \
    X("程", "cheng", 41)                                                                           \
    X("苏", "su", 40)                                                                              \
    X("魏", "wei", 39)                                                                             \
    X("吕", "lv", 38)                                                                              \
    X("丁", "ding", 37)                                                                            \
    X("任", "ren", 36)                                                                             \
    X("沈", "shen", 35)                                                                            \
    X("姚", "yao", 34)                                                                             \
    X("卢", "lu", 33)                                                                              \
    X("姜", "jiang", 32)                                                                           \
    X("崔", "cui", 31)                                                                             \
    X("钟", "zhong", 30)                                                                           \
    X("谭", "tan", 29)                                                                             \
    X("陆", "lu", 28)                                                                              \
    X("汪", "wang", 27)                                                                            \
    X("范", "fan", 26)                                                                             \
    X("金", "jin", 25)                                                                             \
    X("石", "shi", 24)                                                                             \
    X("廖", "liao", 23)                                                                            \
    X("贾", "jia", 22)                                                                             \
    X("夏", "xia", 21)                                                                             \
    X("韦", "wei", 20)                                                                             \
    X("付", "fu", 19)                                                                              \
    X("方", "fang", 18)                                                                            \
    X("白", "bai", 17)                                                                             \
    X("邹", "zou", 16)                                                                             \
    X("孟", "meng", 15)                                                                            \
    X("熊", "xiong", 15)                                                                           \
    X("秦", "qin", 14)                                                                             \
    X("邱", "qiu", 14)                                                                             \
    X("江", "jiang", 14)                                                                           \
    X("尹", "yin", 13)                                                                             \
    X("薛", "xue", 13)                                                                             \
    X("闫", "yan", 12)                                                                             \
    X("段", "duan", 12)                                                                            \
    X("雷", "lei", 12)                                                                             \
    X("侯", "hou", 11)                                                                             \
    X("龙", "long", 11)                                                                            \
    X("史", "shi", 11)                                                                             \
    X("陶", "tao", 10)                                                                             \
    X("黎", "li", 10)                                                                              \
    X("贺", "he", 10)                                                                              \
    X("顾", "gu", 10)                                                                              \
    X("毛", "mao", 10)                                                                             \
    X("郝", "hao", 9)                                                                              \
    X("龚", "gong", 9)                                                                             \
    X("邵", "shao", 9)                                                                             \
    X("万", "wan", 9)                                                                              \
    X("钱", "qian", 9)                                                                             \
    X("严", "yan", 8)                                                                              \
    X("覃", "qin", 8)                                                                              \
    X("武", "wu", 8)                                                                               \
    X("戴", "dai", 8)                                                                              \
    X("莫", "mo", 8)                                                                               \
    X("孔", "kong", 7)                                                                             \
    X("向", "xiang", 7)                                                                            \
    X("汤", "tang", 7)                                                                             \
    X("欧阳", "ouyang", 5)                                                                         \
    X("上官", "shangguan", 1)                                                                      \
    X("司马", "sima", 1)                                                                           \
    X("诸葛", "zhuge", 1)

static const struct hanzi cn_surnames[] = {CN_SURNAMES(HANZI_ENTRY)};
static const uint16_t cn_surname_w[] = {CN_SURNAMES(HANZI_WEIGHT)};
#define CN_SURNAME_TOTAL (0 CN_SURNAMES(HANZI_SUM))

/* Given-name characters, more often given to boys ... */
static const struct hanzi cn_given_m[] = {
    {"伟", "wei"},   {"强", "qiang"}, {"磊", "lei"},   {"军", "jun"},   {"勇", "yong"},
    {"杰", "jie"},   {"涛", "tao"},   {"斌", "bin"},   {"超", "chao"},  {"明", "ming"},
    {"刚", "gang"},  {"平", "ping"},  {"辉", "hui"},   {"鹏", "peng"},  {"华", "hua"},
    {"飞", "fei"},   {"鑫", "xin"},   {"波", "bo"},    {"宇", "yu"},    {"浩", "hao"},
    {"凯", "kai"},   {"健", "jian"},  {"俊", "jun"},   {"帆", "fan"},   {"帅", "shuai"},
    {"旭", "xu"},    {"宁", "ning"},  {"龙", "long"},  {"阳", "yang"},  {"建", "jian"},
    {"国", "guo"},   {"志", "zhi"},   {"文", "wen"},   {"博", "bo"},    {"天", "tian"},
    {"海", "hai"},   {"东", "dong"},  {"晨", "chen"},  {"子", "zi"},    {"轩", "xuan"},
    {"泽", "ze"},    {"睿", "rui"},   {"航", "hang"},  {"豪", "hao"},   {"然", "ran"},
    {"铭", "ming"},  {"嘉", "jia"},   {"诚", "cheng"}, {"峰", "feng"},  {"毅", "yi"},
    {"成", "cheng"}, {"亮", "liang"}, {"彬", "bin"},   {"松", "song"},  {"坤", "kun"},
    {"哲", "zhe"},   {"鸿", "hong"},  {"翔", "xiang"}, {"晖", "hui"},   {"瑞", "rui"},
    {"彦", "yan"},   {"钧", "jun"},   {"振", "zhen"},  {"雄", "xiong"}, {"庆", "qing"},
    {"荣", "rong"},  {"永", "yong"},  {"德", "de"},    {"胜", "sheng"}, {"武", "wu"},
    {"岩", "yan"},   {"瀚", "han"},   {"昊", "hao"},   {"逸", "yi"},    {"恒", "heng"},
    {"晟", "sheng"}, {"煜", "yu"},    {"皓", "hao"},   {"宏", "hong"},  {"立", "li"},
    {"新", "xin"},   {"光", "guang"}, {"兵", "bing"},  {"洋", "yang"},  {"锋", "feng"},
    {"锦", "jin"},   {"楠", "nan"},   {"骏", "jun"},   {"鹤", "he"},    {"泉", "quan"},
};

/* ... and to girls. */
static const struct hanzi cn_given_f[] = {
    {"芳", "fang"},   {"娜", "na"},    {"敏", "min"},  {"静", "jing"}, {"丽", "li"},
    {"艳", "yan"},    {"娟", "juan"},  {"霞", "xia"},  {"秀", "xiu"},  {"玲", "ling"},
    {"桂", "gui"},    {"英", "ying"},  {"燕", "yan"},  {"萍", "ping"}, {"红", "hong"},
    {"梅", "mei"},    {"琳", "lin"},   {"婷", "ting"}, {"雪", "xue"},  {"慧", "hui"},
    {"莉", "li"},     {"倩", "qian"},  {"颖", "ying"}, {"洁", "jie"},  {"琴", "qin"},
    {"云", "yun"},    {"佳", "jia"},   {"欣", "xin"},  {"怡", "yi"},   {"雨", "yu"},
    {"萱", "xuan"},   {"梓", "zi"},    {"思", "si"},   {"晓", "xiao"}, {"悦", "yue"},
    {"蕾", "lei"},    {"薇", "wei"},   {"瑶", "yao"},  {"璐", "lu"},   {"露", "lu"},
    {"晶", "jing"},   {"妍", "yan"},   {"琪", "qi"},   {"诗", "shi"},  {"涵", "han"},
    {"可", "ke"},     {"馨", "xin"},   {"月", "yue"},  {"彤", "tong"}, {"冰", "bing"},
    {"爽", "shuang"}, {"丹", "dan"},   {"凤", "feng"}, {"兰", "lan"},  {"菊", "ju"},
    {"珍", "zhen"},   {"春", "chun"},  {"淑", "shu"},  {"蓉", "rong"}, {"婉", "wan"},
    {"清", "qing"},   {"琼", "qiong"}, {"青", "qing"}, {"茜", "qian"}, {"婧", "jing"},
    {"雯", "wen"},    {"璇", "xuan"},  {"瑾", "jin"},  {"蓓", "bei"},  {"萌", "meng"},
    {"曼", "man"},    {"岚", "lan"},   {"琦", "qi"},   {"菲", "fei"},  {"芬", "fen"},
    {"媛", "yuan"},   {"茹", "ru"},    {"瑜", "yu"},   {"若", "ruo"},  {"语", "yu"},
    {"溪", "xi"},     {"依", "yi"},    {"沫", "mo"},   {"欢", "huan"}, {"乐", "le"},
    {"安", "an"},     {"心", "xin"},   {"玉", "yu"},   {"珊", "shan"}, {"娇", "jiao"},
    {"霏", "fei"},    {"昕", "xin"},   {"素", "su"},   {"秋", "qiu"},  {"晴", "qing"},
};

/* ------------------------------------------------------------------------ */
/* Chinese places                                                           */
/* ------------------------------------------------------------------------ */

/*
 * A city: its province (NULL for the four municipalities, whose addresses
 * start with the city), some real districts, and the code and number of the
 * stores there.
 */
struct cn_city {
    const char *province;
    const char *city;
    const char *districts[6]; /* NULL-terminated when fewer than six */
    const char *store;
    uint8_t nstores;
};

#define CN_CITIES(X)                                                                               \
    X(120, NULL, "北京市", "BJ", 22, "朝阳区", "海淀区", "东城区", "西城区", "丰台区", "通州区")   \
    X(120, NULL, "上海市", "SH", 24, "浦东新区", "黄浦区", "徐汇区", "静安区", "长宁区", "闵行区") \
    X(40, NULL, "天津市", "TJ", 8, "和平区", "河西区", "南开区", "滨海新区")                       \
    X(50, NULL, "重庆市", "CQ", 10, "渝中区", "江北区", "南岸区", "沙坪坝区", "九龙坡区")          \
    X(90, "广东省", "广州市", "GZ", 16, "天河区", "越秀区", "海珠区", "番禺区", "白云区")          \
    X(100, "广东省", "深圳市", "SZ", 20, "南山区", "福田区", "罗湖区", "宝安区", "龙岗区",         \
      "龙华区")                                                                                    \
    X(25, "广东省", "佛山市", "FS", 6, "禅城区", "南海区", "顺德区")                               \
    X(60, "浙江省", "杭州市", "HZ", 12, "西湖区", "上城区", "拱墅区", "滨江区", "余杭区")          \
    X(25, "浙江省", "宁波市", "NB", 5, "海曙区", "鄞州区", "江北区")                               \
    X(45, "江苏省", "南京市", "NJ", 10, "玄武区", "秦淮区", "鼓楼区", "建邺区", "江宁区")          \
    X(40, "江苏省", "苏州市", "SU", 9, "姑苏区", "吴中区", "虎丘区", "相城区", "吴江区")           \
    X(20, "江苏省", "无锡市", "WX", 5, "梁溪区", "滨湖区", "新吴区")                               \
    X(60, "四川省", "成都市", "CD", 14, "锦江区", "青羊区", "武侯区", "成华区", "金牛区")          \
    X(50, "湖北省", "武汉市", "WH", 11, "江汉区", "武昌区", "洪山区", "江岸区")                    \
    X(40, "陕西省", "西安市", "XA", 9, "雁塔区", "碑林区", "莲湖区", "未央区")                     \
    X(35, "湖南省", "长沙市", "CS", 8, "岳麓区", "芙蓉区", "天心区", "开福区")                     \
    X(35, "河南省", "郑州市", "ZZ", 8, "金水区", "中原区", "二七区", "管城回族区")                 \
    X(20, "山东省", "济南市", "JN", 6, "历下区", "市中区", "槐荫区")                               \
    X(25, "山东省", "青岛市", "QD", 7, "市南区", "市北区", "崂山区", "黄岛区")                     \
    X(25, "辽宁省", "沈阳市", "SY", 6, "和平区", "沈河区", "皇姑区")                               \
    X(20, "辽宁省", "大连市", "DL", 5, "中山区", "西岗区", "沙河口区")                             \
    X(20, "福建省", "厦门市", "XM", 5, "思明区", "湖里区", "集美区")                               \
    X(20, "福建省", "福州市", "FZ", 5, "鼓楼区", "台江区", "仓山区")                               \
    X(20, "云南省", "昆明市", "KM", 5, "五华区", "盘龙区", "官渡区")                               \
    X(15, "广西壮族自治区", "南宁市", "NN", 4, "青秀区", "兴宁区", "西乡塘区")                     \
    X(25, "安徽省", "合肥市", "HF", 6, "蜀山区", "包河区", "庐阳区")

#define CITY_ENTRY(w, province, city, store, nstores, ...)                                         \
    {province, city, {__VA_ARGS__}, store, nstores},
#define CITY_WEIGHT(w, ...) w,
#define CITY_SUM(w, ...)    +(w)
static const struct cn_city cn_cities[] = {CN_CITIES(CITY_ENTRY)};
static const uint16_t cn_city_w[] = {CN_CITIES(CITY_WEIGHT)};
#define CN_CITY_TOTAL (0 CN_CITIES(CITY_SUM))

static const char *const cn_streets[] = {
    "人民路",   "解放路",   "中山路",   "建设路",   "和平路",   "新华路", "文化路",
    "胜利路",   "长江路",   "黄河路",   "科技园路", "建国路",   "学府路", "滨江路",
    "朝阳路",   "光明路",   "青年路",   "幸福路",   "东风路",   "迎宾路", "花园路",
    "工业大道", "世纪大道", "公园路",   "体育路",   "环城东路", "振兴路", "友谊路",
    "府前街",   "人民南路", "中山北路", "建设大道", "金融街",   "望京街", "湖滨路",
};

/* ------------------------------------------------------------------------ */
/* Chinese mobile numbers                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Mobile prefixes of China Mobile, China Unicom and China Telecom; the older
 * 13x, 15x and 18x ranges carry most subscribers.
 */
#define CN_MOBILE_PREFIXES(X)                                                                      \
    /* China Mobile */                                                                             \
    X("134", 5)                                                                                    \
    X("135", 6)                                                                                    \
    X("136", 5)                                                                                    \
    X("137", 5)                                                                                    \
    X("138", 6)                                                                                    \
    X("139", 6)                                                                                    \
    X("147", 1)                                                                                    \
    X("150", 4)                                                                                    \
    X("151", 4)                                                                                    \
    X("152", 3)                                                                                    \
    X("157", 3)                                                                                    \
    X("158", 4)                                                                                    \
    X("159", 4)                                                                                    \
    X("172", 1)                                                                                    \
    X("178", 1)                                                                                    \
    X("182", 3)                                                                                    \
    X("183", 3)                                                                                    \
    X("184", 2)                                                                                    \
    X("187", 4)                                                                                    \
    X("188", 4)                                                                                    \
    X("195", 1)                                                                                    \
    X("197", 1)                                                                                    \
    X("198", 2)                                                                                    \
    /* China Unicom */                                                                             \
    X("130", 4)                                                                                    \
    X("131", 4)                                                                                    \
    X("132", 4)                                                                                    \
    X("145", 1)                                                                                    \
    X("155", 3)                                                                                    \
    X("156", 3)                                                                                    \
    X("166", 1)                                                                                    \
    X("175", 1)                                                                                    \
    X("176", 2)                                                                                    \
    X("185", 4)                                                                                    \
    X("186", 4)                                                                                    \
    X("196", 1)                                                                                    \
    /* China Telecom */                                                                            \
    X("133", 4)                                                                                    \
    X("149", 1)                                                                                    \
    X("153", 3)                                                                                    \
    X("173", 1)                                                                                    \
    X("177", 2)                                                                                    \
    X("180", 3)                                                                                    \
    X("181", 3)                                                                                    \
    X("189", 4)                                                                                    \
    X("190", 1)                                                                                    \
    X("191", 1)                                                                                    \
    X("193", 1)                                                                                    \
    X("199", 2)

#define PREFIX_ENTRY(p, w)  p,
#define PREFIX_WEIGHT(p, w) w,
#define PREFIX_SUM(p, w)    +(w)
static const char *const cn_mobile_prefix[] = {CN_MOBILE_PREFIXES(PREFIX_ENTRY)};
static const uint16_t cn_mobile_w[] = {CN_MOBILE_PREFIXES(PREFIX_WEIGHT)};
#define CN_MOBILE_TOTAL (0 CN_MOBILE_PREFIXES(PREFIX_SUM))

/* ------------------------------------------------------------------------ */
/* International customers                                                  */
/* ------------------------------------------------------------------------ */

/* A name in Latin script, with its ASCII e-mail form when not derivable. */
struct latin {
    const char *s;
    const char *ascii; /* NULL: s lower-cased, letters and digits only */
};

struct intl_city {
    const char *name;
    const char *store;
    uint8_t nstores;
    const char *area[3]; /* US area codes; unused elsewhere */
};

enum intl_phone { PH_HK, PH_TW, PH_JP, PH_KR, PH_SG, PH_US, PH_UK, PH_DE };

struct intl_country {
    const char *name; /* last part of the address; NULL: the city is the country */
    enum intl_phone phone;
    bool number_after; /* "Hauptstraße 12" rather than "12 Baker Street" */
    bool jp_number;    /* "1-2-3 Street" */
    const struct latin *first;
    size_t nfirst;
    const struct latin *last;
    size_t nlast;
    const struct intl_city *cities;
    size_t ncities;
    const char *const *streets;
    size_t nstreets;
    const char *const *domains;
    size_t ndomains;
};

#define LIST(a) a, CU_ARRAY_LEN(a)

static const struct latin hk_first[] = {
    {"Emily"},   {"Jason"},  {"Kelvin"}, {"Karen"},  {"Winnie"},  {"Ivan"},    {"Alan"}, {"Carmen"},
    {"Vincent"}, {"Gloria"}, {"Eric"},   {"Angela"}, {"Raymond"}, {"Queenie"}, {"Tony"}, {"Cherry"},
};
static const struct latin hk_last[] = {
    {"Wong"}, {"Chan"}, {"Cheung"}, {"Lau"},   {"Lee"},  {"Ho"},   {"Ng"},  {"Leung"}, {"Tang"},
    {"Lam"},  {"Chow"}, {"Yip"},    {"Tsang"}, {"Kwok"}, {"Fung"}, {"Chu"}, {"Lo"},    {"Yeung"},
};
static const struct intl_city hk_cities[] = {
    {"Central", "HK", 12},       {"Wan Chai", "HK", 12}, {"Causeway Bay", "HK", 12},
    {"Tsim Sha Tsui", "HK", 12}, {"Mong Kok", "HK", 12}, {"Sha Tin", "HK", 12},
};
static const char *const hk_streets[] = {
    "Nathan Road", "Queen's Road Central", "Hennessy Road", "Des Voeux Road Central",
    "Canton Road", "King's Road",          "Lockhart Road",
};
static const char *const hk_domains[] = {"gmail.com", "yahoo.com.hk", "outlook.com", "icloud.com",
                                         "netvigator.com"};

static const struct latin tw_first[] = {
    {"Chia-Hao"}, {"Yu-Ting"}, {"Chih-Wei"}, {"Shu-Fen"},  {"Wei-Lun"},    {"Hsin-Yi"},
    {"Po-Han"},   {"Ya-Ting"}, {"Kuan-Yu"},  {"Pei-Shan"}, {"Chun-Chieh"}, {"I-Ting"},
};
static const struct latin tw_last[] = {
    {"Chen"}, {"Lin"}, {"Huang"}, {"Chang"}, {"Lee"}, {"Wang"},
    {"Wu"},   {"Liu"}, {"Tsai"},  {"Yang"},  {"Hsu"}, {"Cheng"},
};
static const struct intl_city tw_cities[] = {
    {"Taipei", "TP", 6},    {"New Taipei", "TP", 6}, {"Taichung", "TC", 3},
    {"Kaohsiung", "KH", 3}, {"Hsinchu", "HC", 2},
};
static const char *const tw_streets[] = {
    "Zhongxiao East Road", "Xinyi Road",       "Dunhua South Road",
    "Minsheng East Road",  "Heping East Road", "Zhongshan North Road",
};
static const char *const tw_domains[] = {"gmail.com", "yahoo.com.tw", "outlook.com", "icloud.com",
                                         "hotmail.com"};

static const struct latin jp_first[] = {
    {"Kenji"},   {"Yuki"}, {"Haruto"}, {"Sakura"}, {"Takashi"}, {"Aiko"},
    {"Hiroshi"}, {"Yui"},  {"Daiki"},  {"Mei"},    {"Ren"},     {"Hina"},
};
static const struct latin jp_last[] = {
    {"Sato"},     {"Suzuki"},   {"Takahashi"}, {"Tanaka"}, {"Watanabe"}, {"Ito"},
    {"Yamamoto"}, {"Nakamura"}, {"Kobayashi"}, {"Kato"},   {"Yoshida"},  {"Yamada"},
};
static const struct intl_city jp_cities[] = {
    {"Tokyo", "TK", 8}, {"Osaka", "OS", 4},  {"Yokohama", "YK", 2},
    {"Kyoto", "KY", 2}, {"Nagoya", "NG", 2}, {"Fukuoka", "FK", 2},
};
static const char *const jp_streets[] = {
    "Chuo-dori", "Meiji-dori", "Omotesando", "Aoyama-dori", "Yasukuni-dori", "Midosuji",
};
static const char *const jp_domains[] = {"gmail.com", "yahoo.co.jp", "icloud.com", "docomo.ne.jp",
                                         "outlook.jp"};

static const struct latin kr_first[] = {
    {"Min-jun"}, {"Seo-yeon"}, {"Ji-hoon"}, {"Ha-eun"},   {"Do-yun"},
    {"Ji-woo"},  {"Seo-jun"},  {"Su-ah"},   {"Hyun-woo"}, {"Ye-jin"},
};
static const struct latin kr_last[] = {
    {"Kim"}, {"Lee"}, {"Park"}, {"Choi"}, {"Jung"}, {"Kang"}, {"Cho"}, {"Yoon"}, {"Jang"}, {"Lim"},
};
static const struct intl_city kr_cities[] = {
    {"Seoul", "SE", 8},
    {"Busan", "BS", 3},
    {"Incheon", "IC", 2},
    {"Daegu", "DG", 2},
};
static const char *const kr_streets[] = {
    "Teheran-ro", "Gangnam-daero", "Sejong-daero", "Olympic-ro", "Haeundae-ro", "Jong-ro",
};
static const char *const kr_domains[] = {"naver.com", "daum.net", "gmail.com", "icloud.com",
                                         "kakao.com"};

static const struct latin sg_first[] = {
    {"Ryan"},    {"Rachel"},   {"Marcus"}, {"Michelle"}, {"Daniel"},
    {"Jasmine"}, {"Benjamin"}, {"Nicole"}, {"Darren"},   {"Shirley"},
};
static const struct latin sg_last[] = {
    {"Tan"}, {"Lim"}, {"Lee"}, {"Ng"}, {"Ong"}, {"Wong"}, {"Goh"}, {"Chua"}, {"Koh"}, {"Teo"},
};
static const struct intl_city sg_cities[] = {
    {"Singapore", "SG", 6},
};
static const char *const sg_streets[] = {
    "Orchard Road",   "Bukit Timah Road",  "Marina Boulevard",
    "Serangoon Road", "Clementi Avenue 3", "Tampines Street 21",
};
static const char *const sg_domains[] = {"gmail.com", "yahoo.com.sg", "outlook.com", "icloud.com",
                                         "singnet.com.sg"};

static const struct latin us_first[] = {
    {"James"},  {"Mary"},    {"Michael"}, {"Jennifer"}, {"David"}, {"Sarah"},
    {"Daniel"}, {"Jessica"}, {"Ryan"},    {"Ashley"},   {"Kevin"}, {"Emily"},
};
static const struct latin us_last[] = {
    {"Smith"},  {"Johnson"}, {"Williams"}, {"Brown"},  {"Jones"}, {"Garcia"},
    {"Miller"}, {"Davis"},   {"Chen"},     {"Nguyen"}, {"Wang"},  {"Kim"},
};
static const struct intl_city us_cities[] = {
    {"New York", "NY", 6, {"212", "646", "917"}},
    {"Los Angeles", "LA", 5, {"213", "310", "323"}},
    {"San Francisco", "SF", 4, {"415", "628", "415"}},
    {"Seattle", "ST", 2, {"206", "206", "425"}},
    {"Chicago", "CH", 3, {"312", "773", "872"}},
    {"Boston", "BO", 2, {"617", "857", "617"}},
};
static const char *const us_streets[] = {
    "Main Street", "Market Street", "Broadway",   "Fifth Avenue",
    "Oak Street",  "Park Avenue",   "Elm Street", "Washington Street",
};
static const char *const us_domains[] = {"gmail.com", "yahoo.com", "outlook.com", "icloud.com",
                                         "hotmail.com"};

static const struct latin uk_first[] = {
    {"Oliver"}, {"Amelia"}, {"George"}, {"Isla"},    {"Harry"},
    {"Olivia"}, {"Jack"},   {"Emily"},  {"Charlie"}, {"Sophie"},
};
static const struct latin uk_last[] = {
    {"Smith"},  {"Jones"},   {"Taylor"}, {"Brown"}, {"Williams"},
    {"Wilson"}, {"Johnson"}, {"Davies"}, {"Evans"}, {"Thomas"},
};
static const struct intl_city uk_cities[] = {
    {"London", "LD", 8},    {"Manchester", "MC", 2}, {"Birmingham", "BM", 2},
    {"Edinburgh", "ED", 1}, {"Bristol", "BR", 1},
};
static const char *const uk_streets[] = {
    "Baker Street", "Oxford Street", "High Street",   "Station Road",
    "Church Lane",  "King Street",   "Victoria Road", "Mill Lane",
};
static const char *const uk_domains[] = {"gmail.com", "outlook.com", "icloud.com", "btinternet.com",
                                         "yahoo.co.uk"};

static const struct latin de_first[] = {
    {"Lukas"}, {"Anna"},  {"Maximilian"}, {"Lena"}, {"Felix"},
    {"Laura"}, {"Jonas"}, {"Lea"},        {"Leon"}, {"Sophie"},
};
static const struct latin de_last[] = {
    {"Müller", "mueller"},
    {"Schmidt"},
    {"Schneider"},
    {"Fischer"},
    {"Weber"},
    {"Meyer"},
    {"Wagner"},
    {"Becker"},
    {"Schulz"},
    {"Hoffmann"},
};
static const struct intl_city de_cities[] = {
    {"Berlin", "BE", 3}, {"München", "MU", 2}, {"Hamburg", "HH", 2}, {"Frankfurt am Main", "FF", 1},
    {"Köln", "KO", 1},
};
static const char *const de_streets[] = {
    "Friedrichstraße", "Hauptstraße",    "Bahnhofstraße",    "Schillerstraße",
    "Goethestraße",    "Kurfürstendamm", "Maximilianstraße",
};
static const char *const de_domains[] = {"gmx.de", "web.de", "gmail.com", "t-online.de",
                                         "icloud.com"};

static const struct intl_country intl_countries[] = {
    {"Hong Kong", PH_HK, false, false, LIST(hk_first), LIST(hk_last), LIST(hk_cities),
     LIST(hk_streets), LIST(hk_domains)},
    {"Taiwan", PH_TW, false, false, LIST(tw_first), LIST(tw_last), LIST(tw_cities),
     LIST(tw_streets), LIST(tw_domains)},
    {"Japan", PH_JP, false, true, LIST(jp_first), LIST(jp_last), LIST(jp_cities), LIST(jp_streets),
     LIST(jp_domains)},
    {"South Korea", PH_KR, false, false, LIST(kr_first), LIST(kr_last), LIST(kr_cities),
     LIST(kr_streets), LIST(kr_domains)},
    {NULL, PH_SG, false, false, LIST(sg_first), LIST(sg_last), LIST(sg_cities), LIST(sg_streets),
     LIST(sg_domains)},
    {"United States", PH_US, false, false, LIST(us_first), LIST(us_last), LIST(us_cities),
     LIST(us_streets), LIST(us_domains)},
    {"United Kingdom", PH_UK, false, false, LIST(uk_first), LIST(uk_last), LIST(uk_cities),
     LIST(uk_streets), LIST(uk_domains)},
    {"Germany", PH_DE, true, false, LIST(de_first), LIST(de_last), LIST(de_cities),
     LIST(de_streets), LIST(de_domains)},
};

/* Share of the international customers, per country above. */
static const uint16_t intl_country_w[] = {35, 17, 12, 9, 9, 11, 4, 3};
#define INTL_COUNTRY_TOTAL (35 + 17 + 12 + 9 + 9 + 11 + 4 + 3)
_Static_assert(CU_ARRAY_LEN(intl_country_w) == CU_ARRAY_LEN(intl_countries), "country weights");

static const char *const de_mobile_prefix[] = {
    "151", "152", "157", "159", "160", "162", "163", "170", "171",
    "172", "173", "174", "175", "176", "177", "178", "179",
};

/* Permille of customers who live in mainland China. */
#define CN_PERMILLE 880

/* ------------------------------------------------------------------------ */
/* Devices                                                                  */
/* ------------------------------------------------------------------------ */

enum dev_kind { DK_PHONE, DK_IPAD, DK_WATCH, DK_MAC };

enum dev_model_id {
    DM_IPHONE_7,
    DM_IPHONE_7_PLUS,
    DM_IPHONE_8,
    DM_IPHONE_X,
    DM_IPHONE_XR,
    DM_IPHONE_XS,
    DM_IPHONE_11,
    DM_IPHONE_11_PRO,
    DM_IPHONE_SE2,
    DM_IPHONE_12,
    DM_IPHONE_12_PRO,
    DM_IPHONE_13,
    DM_IPHONE_13_PRO_MAX,
    DM_IPHONE_14,
    DM_IPHONE_14_PRO,
    DM_IPHONE_15,
    DM_IPHONE_15_PRO_MAX,
    DM_IPHONE_16,
    DM_IPHONE_16_PRO,
    DM_IPHONE_16E,
    DM_IPHONE_17,
    DM_IPHONE_17_PRO_MAX,
    DM_IPHONE_AIR,
    DM_IPAD_9,
    DM_IPAD_AIR_5,
    DM_IPAD_MINI_6,
    DM_IPAD_PRO_M4,
    DM_WATCH_8,
    DM_WATCH_9,
    DM_WATCH_ULTRA_2,
    DM_WATCH_10,
    DM_MACBOOK_PRO_M3,
    DM_MACBOOK_AIR_M3,
};

struct dev_model {
    const char *name;
    enum dev_kind kind;
    int16_t year; /* release date */
    uint8_t month, day;
};

static const struct dev_model dev_models[] = {
    [DM_IPHONE_7] = {"iPhone 7", DK_PHONE, 2016, 9, 16},
    [DM_IPHONE_7_PLUS] = {"iPhone 7 Plus", DK_PHONE, 2016, 9, 16},
    [DM_IPHONE_8] = {"iPhone 8", DK_PHONE, 2017, 9, 22},
    [DM_IPHONE_X] = {"iPhone X", DK_PHONE, 2017, 11, 3},
    [DM_IPHONE_XR] = {"iPhone XR", DK_PHONE, 2018, 10, 26},
    [DM_IPHONE_XS] = {"iPhone XS", DK_PHONE, 2018, 9, 21},
    [DM_IPHONE_11] = {"iPhone 11", DK_PHONE, 2019, 9, 20},
    [DM_IPHONE_11_PRO] = {"iPhone 11 Pro", DK_PHONE, 2019, 9, 20},
    [DM_IPHONE_SE2] = {"iPhone SE (2nd generation)", DK_PHONE, 2020, 4, 24},
    [DM_IPHONE_12] = {"iPhone 12", DK_PHONE, 2020, 10, 23},
    [DM_IPHONE_12_PRO] = {"iPhone 12 Pro", DK_PHONE, 2020, 10, 23},
    [DM_IPHONE_13] = {"iPhone 13", DK_PHONE, 2021, 9, 24},
    [DM_IPHONE_13_PRO_MAX] = {"iPhone 13 Pro Max", DK_PHONE, 2021, 9, 24},
    [DM_IPHONE_14] = {"iPhone 14", DK_PHONE, 2022, 9, 16},
    [DM_IPHONE_14_PRO] = {"iPhone 14 Pro", DK_PHONE, 2022, 9, 16},
    [DM_IPHONE_15] = {"iPhone 15", DK_PHONE, 2023, 9, 22},
    [DM_IPHONE_15_PRO_MAX] = {"iPhone 15 Pro Max", DK_PHONE, 2023, 9, 22},
    [DM_IPHONE_16] = {"iPhone 16", DK_PHONE, 2024, 9, 20},
    [DM_IPHONE_16_PRO] = {"iPhone 16 Pro", DK_PHONE, 2024, 9, 20},
    [DM_IPHONE_16E] = {"iPhone 16e", DK_PHONE, 2025, 2, 28},
    [DM_IPHONE_17] = {"iPhone 17", DK_PHONE, 2025, 9, 19},
    [DM_IPHONE_17_PRO_MAX] = {"iPhone 17 Pro Max", DK_PHONE, 2025, 9, 19},
    [DM_IPHONE_AIR] = {"iPhone Air", DK_PHONE, 2025, 9, 19},
    [DM_IPAD_9] = {"iPad (9th generation)", DK_IPAD, 2021, 9, 24},
    [DM_IPAD_AIR_5] = {"iPad Air (5th generation)", DK_IPAD, 2022, 3, 18},
    [DM_IPAD_MINI_6] = {"iPad mini (6th generation)", DK_IPAD, 2021, 9, 24},
    [DM_IPAD_PRO_M4] = {"iPad Pro 11-inch (M4)", DK_IPAD, 2024, 5, 15},
    [DM_WATCH_8] = {"Apple Watch Series 8", DK_WATCH, 2022, 9, 16},
    [DM_WATCH_9] = {"Apple Watch Series 9", DK_WATCH, 2023, 9, 22},
    [DM_WATCH_ULTRA_2] = {"Apple Watch Ultra 2", DK_WATCH, 2023, 9, 22},
    [DM_WATCH_10] = {"Apple Watch Series 10", DK_WATCH, 2024, 9, 20},
    [DM_MACBOOK_PRO_M3] = {"MacBook Pro 14-inch (M3)", DK_MAC, 2023, 11, 7},
    [DM_MACBOOK_AIR_M3] = {"MacBook Air 13-inch (M3)", DK_MAC, 2024, 3, 8},
};

/*
 * Type Allocation Codes (the first eight IMEI digits) and the model each one
 * belongs to.  Each TAC owns 1000 * (w1 + w2) of its million serial numbers:
 * the first w1 thousand go to customers' first devices (iPhones only), the
 * next w2 thousand to their other devices, so the weights also set how often
 * each model appears.
 */
struct dev_tac {
    char tac[9];
    enum dev_model_id model;
};

#define DEV_TACS(X)                                                                                \
    X("35332807", DM_IPHONE_7, 350, 150)                                                           \
    X("35391108", DM_IPHONE_7, 300, 150)                                                           \
    X("35325807", DM_IPHONE_7_PLUS, 300, 150)                                                      \
    X("35672807", DM_IPHONE_7_PLUS, 250, 150)                                                      \
    X("35290609", DM_IPHONE_8, 350, 200)                                                           \
    X("35683808", DM_IPHONE_8, 300, 200)                                                           \
    X("35290611", DM_IPHONE_X, 350, 200)                                                           \
    X("35684109", DM_IPHONE_X, 300, 200)                                                           \
    X("35332811", DM_IPHONE_XR, 450, 250)                                                          \
    X("35733310", DM_IPHONE_XR, 400, 250)                                                          \
    X("35723110", DM_IPHONE_XS, 350, 200)                                                          \
    X("35398710", DM_IPHONE_XS, 300, 200)                                                          \
    X("35391110", DM_IPHONE_11, 600, 300)                                                          \
    X("35320811", DM_IPHONE_11, 550, 300)                                                          \
    X("35602011", DM_IPHONE_11, 500, 300)                                                          \
    X("35306911", DM_IPHONE_11_PRO, 400, 250)                                                      \
    X("35390211", DM_IPHONE_11_PRO, 400, 250)                                                      \
    X("35676411", DM_IPHONE_SE2, 350, 200)                                                         \
    X("35679111", DM_IPHONE_SE2, 300, 200)                                                         \
    X("35407115", DM_IPHONE_12, 600, 300)                                                          \
    X("35304112", DM_IPHONE_12, 550, 300)                                                          \
    X("35629112", DM_IPHONE_12, 500, 300)                                                          \
    X("35322512", DM_IPHONE_12_PRO, 450, 250)                                                      \
    X("35873612", DM_IPHONE_12_PRO, 400, 250)                                                      \
    X("35386214", DM_IPHONE_13, 650, 300)                                                          \
    X("35493714", DM_IPHONE_13, 600, 300)                                                          \
    X("35706714", DM_IPHONE_13, 550, 300)                                                          \
    X("35290813", DM_IPHONE_13_PRO_MAX, 500, 250)                                                  \
    X("35394013", DM_IPHONE_13_PRO_MAX, 450, 250)                                                  \
    X("35323617", DM_IPHONE_14, 650, 300)                                                          \
    X("35880617", DM_IPHONE_14, 600, 300)                                                          \
    X("01332700", DM_IPHONE_14, 300, 150)                                                          \
    X("35312618", DM_IPHONE_14_PRO, 550, 300)                                                      \
    X("35692818", DM_IPHONE_14_PRO, 500, 300)                                                      \
    X("35467419", DM_IPHONE_15, 650, 300)                                                          \
    X("35810519", DM_IPHONE_15, 600, 300)                                                          \
    X("01454600", DM_IPHONE_15, 300, 150)                                                          \
    X("35409319", DM_IPHONE_15_PRO_MAX, 600, 300)                                                  \
    X("35925719", DM_IPHONE_15_PRO_MAX, 550, 300)                                                  \
    X("35238624", DM_IPHONE_16, 650, 300)                                                          \
    X("35520424", DM_IPHONE_16, 600, 300)                                                          \
    X("01534900", DM_IPHONE_16, 300, 150)                                                          \
    X("35324724", DM_IPHONE_16_PRO, 600, 300)                                                      \
    X("35981224", DM_IPHONE_16_PRO, 550, 300)                                                      \
    X("35177425", DM_IPHONE_16E, 500, 250)                                                         \
    X("35466526", DM_IPHONE_17, 550, 300)                                                          \
    X("35890226", DM_IPHONE_17, 500, 300)                                                          \
    X("35207126", DM_IPHONE_17_PRO_MAX, 500, 300)                                                  \
    X("35732026", DM_IPHONE_AIR, 400, 250)                                                         \
    X("35345512", DM_IPAD_9, 0, 600)                                                               \
    X("35849318", DM_IPAD_AIR_5, 0, 550)                                                           \
    X("35619314", DM_IPAD_MINI_6, 0, 450)                                                          \
    X("35430523", DM_IPAD_PRO_M4, 0, 500)                                                          \
    X("35362617", DM_WATCH_8, 0, 500)                                                              \
    X("35785420", DM_WATCH_9, 0, 550)                                                              \
    X("35093520", DM_WATCH_ULTRA_2, 0, 400)                                                        \
    X("35151324", DM_WATCH_10, 0, 550)                                                             \
    X("35428921", DM_MACBOOK_PRO_M3, 0, 150)                                                       \
    X("35518822", DM_MACBOOK_AIR_M3, 0, 150)

#define DEV_TAC_ENTRY(tac, model, w1, w2) {tac, model},
#define DEV_TAC_W1(tac, model, w1, w2)    w1,
#define DEV_TAC_W2(tac, model, w1, w2)    w2,
#define DEV_TAC_SUM1(tac, model, w1, w2)  +(w1)
#define DEV_TAC_SUM2(tac, model, w1, w2)  +(w2)
#define DEV_TAC_CHECK(tac, model, w1, w2) _Static_assert((w1) + (w2) <= 1000, "serials of " tac);

static const struct dev_tac dev_tacs[] = {DEV_TACS(DEV_TAC_ENTRY)};
static const uint16_t dev_w1[] = {DEV_TACS(DEV_TAC_W1)};
static const uint16_t dev_w2[] = {DEV_TACS(DEV_TAC_W2)};
DEV_TACS(DEV_TAC_CHECK)

/*
 * Sizes of the two slot spaces (first devices, other devices) and the number
 * of bits of the power-of-two domain their permutations work in: the
 * smallest that holds the space, so cycle walking takes under two steps on
 * average.
 */
#define DEV_SPACE1 (1000ULL * (0 DEV_TACS(DEV_TAC_SUM1)))
#define DEV_SPACE2 (1000ULL * (0 DEV_TACS(DEV_TAC_SUM2)))
#define DEV_BITS(n)                                                                                \
    ((n) <= 1ULL << 22   ? 22                                                                      \
     : (n) <= 1ULL << 23 ? 23                                                                      \
     : (n) <= 1ULL << 24 ? 24                                                                      \
     : (n) <= 1ULL << 25 ? 25                                                                      \
     : (n) <= 1ULL << 26 ? 26                                                                      \
                         : 27)
_Static_assert(DEV_SPACE1 <= 1ULL << 27 && DEV_SPACE2 <= 1ULL << 27, "device spaces");

static const char *const serial_prefix[][4] = {
    [DK_PHONE] = {"F2L", "DNP", "G6T", "F17"},
    [DK_IPAD] = {"DMP", "F9F", "DLX", "GG7"},
    [DK_WATCH] = {"G99", "FHL", "GY6", "GQ9"},
    [DK_MAC] = {"C02", "FVF", "C1M", "C02"},
};

static const char serial_chars[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/* ------------------------------------------------------------------------ */
/* Generation                                                               */
/* ------------------------------------------------------------------------ */

/* What one record is built from, before it becomes strings. */
struct person {
    bool cn;
    const struct cn_city *cn_city;
    const struct intl_country *country;
    const struct intl_city *city;
    const struct hanzi *surname;
    const struct hanzi *given[2];
    size_t ngiven;
    const struct latin *first, *last;
    int32_t birth; /* days since the epoch */
    bool has_birth;
};

/*
 * A bijection of [0, 2^bits) keyed by k1 and k2: xor, addition and
 * multiplication by odd constants modulo 2^bits, and x ^= x >> s, are each
 * invertible.
 */
static uint64_t perm_step(uint64_t x, unsigned bits, uint64_t k1, uint64_t k2)
{
    uint64_t mask = (1ULL << bits) - 1;
    unsigned s = bits / 2 + 1;

    x = (x ^ k1) & mask;
    x = (x * 0x9E3779B97F4A7C15ULL) & mask;
    x ^= x >> s;
    x = (x + k2) & mask;
    x = (x * 0xBF58476D1CE4E5B9ULL) & mask;
    x ^= x >> s;
    x = (x * 0x94D049BB133111EBULL) & mask;
    x ^= x >> s;
    return x;
}

/* A bijection of [0, space), by cycle walking the one above. */
static uint64_t perm(uint64_t x, uint64_t space, unsigned bits, uint64_t k1, uint64_t k2)
{
    do
        x = perm_step(x, bits, k1, k2);
    while (x >= space);
    return x;
}

/*
 * The IMEI of device slot `slot` of the first-device space (second == false)
 * or the other-device space: permute the slot, find the TAC whose share of
 * the space holds it, and spread the offset within that share over the
 * serial numbers with an affine map modulo 10^6 (a bijection, as 387 419 is
 * prime to 10).  Writes 15 digits and a NUL into imei; returns the TAC entry.
 */
static const struct dev_tac *device_imei(uint64_t seed, uint64_t slot, bool second, char *imei)
{
    /* Luhn doubling: 2d, less 9 when that has two digits. */
    static const uint8_t dbl[10] = {0, 2, 4, 6, 8, 1, 3, 5, 7, 9};
    uint64_t space = second ? DEV_SPACE2 : DEV_SPACE1;
    unsigned bits = second ? DEV_BITS(DEV_SPACE2) : DEV_BITS(DEV_SPACE1);
    uint64_t ks = seed ^ (second ? 0x5EC0DD5EC0DDULL : 0xF125F125F125ULL);
    uint64_t k1 = synth_rand(&ks), k2 = synth_rand(&ks);
    uint64_t x = perm(slot % space, space, bits, k1, k2);
    const uint16_t *w = second ? dev_w2 : dev_w1;
    uint32_t snr, sum = 0, thousands = (uint32_t)(x / 1000);
    size_t ti, i;

    /* The shares are whole thousands: find the TAC in thousands. */
    for (ti = 0; ti + 1 < CU_ARRAY_LEN(dev_tacs) && thousands >= w[ti]; ti++)
        thousands -= w[ti];
    x = 1000ULL * thousands + x % 1000;
    if (second)
        x += 1000ULL * dev_w1[ti];
    snr = (uint32_t)((x * 387419 + 1000003ULL * ti) % 1000000);

    memcpy(imei, dev_tacs[ti].tac, 8);
    for (i = 13; i >= 8; i--) {
        imei[i] = (char)('0' + snr % 10);
        snr /= 10;
    }
    /* Luhn: double every second digit counting from the right of the 15. */
    for (i = 0; i < 14; i += 2)
        sum += (unsigned)(imei[i] - '0') + dbl[imei[i + 1] - '0'];
    imei[14] = (char)('0' + (10 - sum % 10) % 10);
    imei[15] = '\0';
    return &dev_tacs[ti];
}

/* Fills one device of `c`: the `k`th (0-based) device of customer `index`. */
static void gen_device(uint64_t *st, uint64_t seed, uint64_t index, size_t k,
                       const struct person *p, struct model_customer *c)
{
    struct model_device *d = model_customer_add_device(c);
    char imei[MODEL_IMEI_LEN + 1];
    const struct dev_tac *t;
    const struct dev_model *m;
    struct sb s;
    int32_t lo, hi, day;
    uint64_t r;
    int i;

    s.n = 0;
    if (k == 0)
        t = device_imei(seed, index, false, imei);
    else
        t = device_imei(seed, index * 2 + (k - 1), true, imei);
    m = &dev_models[t->model];
    d->imei = xstrndup(imei, MODEL_IMEI_LEN);
    d->model = xstrdup(m->name);

    /* Serial: a plant-style prefix and nine characters of Apple's alphabet. */
    sb_str(&s, serial_prefix[m->kind][rnd_below(st, 4)]);
    r = synth_rand(st);
    for (i = 0; i < 9; i++) {
        sb_ch(&s, serial_chars[r % 34]);
        r /= 34;
    }
    d->serial = sb_dup(&s);

    /*
     * Bought within six years of the model's release, from 2016-01-01 to
     * 2026-10-31, and when the customer was at least twelve.
     */
    lo = days_from_civil(m->year, m->month, m->day);
    hi = lo + 6 * 365;
    if (lo < days_from_civil(2016, 1, 1))
        lo = days_from_civil(2016, 1, 1);
    if (p->has_birth && lo < p->birth + 4383)
        lo = p->birth + 4383;
    if (hi > days_from_civil(2026, 10, 31))
        hi = days_from_civil(2026, 10, 31);
    if (lo > hi)
        lo = hi;
    day = rnd_range(st, lo, hi);
    s.n = 0;
    sb_date(&s, day);
    d->purchase_date = sb_dup(&s);

    /* Store: mostly one in the customer's city, else online or elsewhere. */
    s.n = 0;
    r = rnd_below(st, 100);
    if (r < 22) {
        sb_str(&s, "ONLINE");
    } else {
        const char *code;
        unsigned n;

        if (r < 90 && p->cn) {
            code = p->cn_city->store;
            n = p->cn_city->nstores;
        } else if (r < 90) {
            code = p->city->store;
            n = p->city->nstores;
        } else {
            const struct cn_city *cc = RND_PICK(st, cn_cities);

            code = cc->store;
            n = cc->nstores;
        }
        sb_str(&s, code);
        sb_ch(&s, '-');
        sb_num(&s, 1 + rnd_below(st, n), 3);
    }
    d->store = sb_dup(&s);
}

/* Appends a Chinese mobile number in E.164 form. */
static void gen_cn_phone(uint64_t *st, struct sb *s)
{
    sb_str(s, "+86");
    sb_str(s, cn_mobile_prefix[rnd_weighted(st, cn_mobile_w, CU_ARRAY_LEN(cn_mobile_w),
                                            CN_MOBILE_TOTAL)]);
    sb_num(s, rnd_below(st, 100000000), 8);
}

/* Appends a mobile number of the customer's country in E.164 form. */
static void gen_intl_phone(uint64_t *st, const struct person *p, struct sb *s)
{
    static const char hk_lead[] = "569", uk_second[] = "12345789";
    uint32_t ex;

    switch (p->country->phone) {
    case PH_HK:
        sb_str(s, "+852");
        sb_ch(s, hk_lead[rnd_below(st, 3)]);
        sb_num(s, rnd_below(st, 10000000), 7);
        break;
    case PH_TW:
        sb_str(s, "+8869");
        sb_num(s, rnd_below(st, 100000000), 8);
        break;
    case PH_JP:
        sb_str(s, "+81");
        sb_ch(s, (char)('7' + rnd_below(st, 3)));
        sb_ch(s, '0');
        sb_num(s, rnd_below(st, 100000000), 8);
        break;
    case PH_KR:
        sb_str(s, "+8210");
        sb_num(s, rnd_below(st, 100000000), 8);
        break;
    case PH_SG:
        sb_str(s, "+65");
        sb_ch(s, (char)('8' + rnd_below(st, 2)));
        sb_num(s, rnd_below(st, 10000000), 7);
        break;
    case PH_US:
        /* Area code of the city, an exchange NXX that is not N11 or 555. */
        sb_str(s, "+1");
        sb_str(s, p->city->area[rnd_below(st, 3)]);
        ex = 200 + rnd_below(st, 800);
        if (ex % 100 == 11 || ex == 555)
            ex += 10;
        sb_num(s, ex, 3);
        sb_num(s, rnd_below(st, 10000), 4);
        break;
    case PH_UK:
        sb_str(s, "+447");
        sb_ch(s, uk_second[rnd_below(st, 8)]);
        sb_num(s, rnd_below(st, 100000000), 8);
        break;
    case PH_DE: {
        const char *pre = *RND_PICK(st, de_mobile_prefix);

        sb_str(s, "+49");
        sb_str(s, pre);
        if (pre[1] == '5' || rnd_chance(st, 300))
            sb_num(s, rnd_below(st, 100000000), 8);
        else
            sb_num(s, rnd_below(st, 10000000), 7);
        break;
    }
    }
}

/* Appends digits that often end an e-mail local part: a birth year or not. */
static void gen_local_suffix(uint64_t *st, const struct person *p, struct sb *s)
{
    uint32_t r = rnd_below(st, 100), v;
    unsigned m, d;
    int y;

    civil_from_days(p->birth, &y, &m, &d);
    if (r < 25 && p->has_birth) {
        sb_num(s, (uint64_t)(y % 100), 2);
    } else if (r < 35 && p->has_birth) {
        sb_num(s, (uint64_t)y, 4);
    } else if (r < 55) {
        v = rnd_below(st, 1000);
        sb_num(s, v, 1 + (int)rnd_below(st, 3));
    } else if (r < 75) {
        sb_num(s, 100 + rnd_below(st, 9900), 1);
    } else if (r < 85) {
        sb_num(s, 1 + rnd_below(st, 99), 1);
    }
}

/* Appends a pinyin-like (or, abroad, name-based) local part. */
static void gen_local_part(uint64_t *st, const struct person *p, struct sb *s)
{
    const char *sur, *g1, *g2 = "";
    uint32_t form = rnd_below(st, 100);
    size_t start = s->n;
    struct sb tmp1, tmp2;

    tmp1.n = 0;
    tmp2.n = 0;
    if (p->cn) {
        sur = p->surname->py;
        g1 = p->given[0]->py;
        if (p->ngiven == 2)
            g2 = p->given[1]->py;
    } else {
        /* Latin names: derive the ASCII forms. */
        if (p->last->ascii != NULL)
            sb_str(&tmp1, p->last->ascii);
        else
            sb_ascii_lower(&tmp1, p->last->s);
        tmp1.b[tmp1.n] = '\0';
        if (p->first->ascii != NULL)
            sb_str(&tmp2, p->first->ascii);
        else
            sb_ascii_lower(&tmp2, p->first->s);
        tmp2.b[tmp2.n] = '\0';
        sur = tmp1.b;
        g1 = tmp2.b;
    }

    if (form < 30) { /* zhangxiaoming */
        sb_str(s, sur);
        sb_str(s, g1);
        sb_str(s, g2);
    } else if (form < 45) { /* xiaomingzhang */
        sb_str(s, g1);
        sb_str(s, g2);
        sb_str(s, sur);
    } else if (form < 55) { /* zhang.xiaoming */
        sb_str(s, sur);
        sb_ch(s, '.');
        sb_str(s, g1);
        sb_str(s, g2);
    } else if (form < 65) { /* xiaoming.zhang */
        sb_str(s, g1);
        sb_str(s, g2);
        sb_ch(s, '.');
        sb_str(s, sur);
    } else if (form < 75) { /* zhang_xiaoming */
        sb_str(s, sur);
        sb_ch(s, '_');
        sb_str(s, g1);
        sb_str(s, g2);
    } else { /* zxm1990 */
        sb_ch(s, sur[0]);
        sb_ch(s, g1[0]);
        if (g2[0] != '\0')
            sb_ch(s, g2[0]);
        gen_local_suffix(st, p, s);
        if (s->n - start < 5)
            sb_num(s, 10 + rnd_below(st, 990), 1);
        return;
    }
    gen_local_suffix(st, p, s);
}

/* Appends a numeric QQ mailbox: 6 to 10 digits, never a leading zero. */
static void gen_qq_local(uint64_t *st, struct sb *s)
{
    static const uint32_t pow10[] = {1,      10,      100,      1000,      10000,
                                     100000, 1000000, 10000000, 100000000, 1000000000};
    uint32_t len = 6 + rnd_below(st, 5);

    if (len == 10)
        sb_ch(s, (char)('1' + rnd_below(st, 3)));
    else
        sb_ch(s, (char)('1' + rnd_below(st, 9)));
    sb_num(s, rnd_below(st, pow10[len - 1]), (int)len - 1);
}

static const char *const cn_domains[] = {"qq.com",    "163.com",     "126.com",   "sina.com",
                                         "gmail.com", "outlook.com", "icloud.com"};
static const uint16_t cn_domain_w[] = {34, 22, 9, 5, 8, 7, 15};
#define CN_DOMAIN_TOTAL (34 + 22 + 9 + 5 + 8 + 7 + 15)

/* Sets c->email and c->account (same address most of the time). */
static void gen_email_account(uint64_t *st, const struct person *p, struct model_customer *c)
{
    struct sb s;
    const char *domain;

    s.n = 0;
    if (p->cn)
        domain =
            cn_domains[rnd_weighted(st, cn_domain_w, CU_ARRAY_LEN(cn_domain_w), CN_DOMAIN_TOTAL)];
    else
        domain = p->country->domains[rnd_below(st, (uint32_t)p->country->ndomains)];
    if (strcmp(domain, "qq.com") == 0)
        gen_qq_local(st, &s);
    else
        gen_local_part(st, p, &s);
    sb_ch(&s, '@');
    sb_str(&s, domain);
    c->email = sb_dup(&s);

    /* The Apple ID: the same address, or one made at icloud.com. */
    if (rnd_chance(st, 720) || strcmp(domain, "icloud.com") == 0) {
        c->account = sb_dup(&s);
        return;
    }
    s.n = 0;
    gen_local_part(st, p, &s);
    sb_str(&s, "@icloud.com");
    c->account = sb_dup(&s);
}

/* Sets c->address. */
static void gen_address(uint64_t *st, const struct person *p, struct model_customer *c)
{
    struct sb s;

    s.n = 0;
    if (p->cn) {
        const struct cn_city *cc = p->cn_city;
        size_t nd = 0;

        while (nd < CU_ARRAY_LEN(cc->districts) && cc->districts[nd] != NULL)
            nd++;
        if (cc->province != NULL)
            sb_str(&s, cc->province);
        sb_str(&s, cc->city);
        sb_str(&s, cc->districts[rnd_below(st, (uint32_t)nd)]);
        sb_str(&s, *RND_PICK(st, cn_streets));
        sb_num(&s, 1 + rnd_below(st, rnd_chance(st, 700) ? 200 : 999), 1);
        sb_str(&s, "号");
        if (rnd_chance(st, 550)) { /* a flat: building, floor and door */
            sb_num(&s, 1 + rnd_below(st, 30), 1);
            sb_str(&s, "栋");
            sb_num(&s, 1 + rnd_below(st, 32), 1);
            sb_num(&s, 1 + rnd_below(st, 8), 2);
            sb_str(&s, "室");
        }
    } else {
        const struct intl_country *ct = p->country;
        const char *street = ct->streets[rnd_below(st, (uint32_t)ct->nstreets)];

        if (ct->number_after) {
            sb_str(&s, street);
            sb_ch(&s, ' ');
            sb_num(&s, 1 + rnd_below(st, 150), 1);
        } else if (ct->jp_number) {
            sb_num(&s, 1 + rnd_below(st, 6), 1);
            sb_ch(&s, '-');
            sb_num(&s, 1 + rnd_below(st, 30), 1);
            sb_ch(&s, '-');
            sb_num(&s, 1 + rnd_below(st, 20), 1);
            sb_ch(&s, ' ');
            sb_str(&s, street);
        } else {
            sb_num(&s, 1 + rnd_below(st, 400), 1);
            sb_ch(&s, ' ');
            sb_str(&s, street);
        }
        sb_str(&s, ", ");
        sb_str(&s, p->city->name);
        if (ct->name != NULL) {
            sb_str(&s, ", ");
            sb_str(&s, ct->name);
        }
    }
    c->address = sb_dup(&s);
}

/* Chooses who the customer is and sets c->name. */
static void gen_person(uint64_t *st, struct person *p, struct model_customer *c)
{
    struct sb s;

    s.n = 0;
    p->cn = rnd_chance(st, CN_PERMILLE);
    if (p->cn) {
        bool female = rnd_chance(st, 500);
        const struct hanzi *pool = female ? cn_given_f : cn_given_m;
        uint32_t npool =
            female ? (uint32_t)CU_ARRAY_LEN(cn_given_f) : (uint32_t)CU_ARRAY_LEN(cn_given_m);
        size_t i;

        p->cn_city =
            &cn_cities[rnd_weighted(st, cn_city_w, CU_ARRAY_LEN(cn_city_w), CN_CITY_TOTAL)];
        p->surname = &cn_surnames[rnd_weighted(st, cn_surname_w, CU_ARRAY_LEN(cn_surname_w),
                                               CN_SURNAME_TOTAL)];
        p->ngiven = rnd_chance(st, 720) ? 2 : 1;
        for (i = 0; i < p->ngiven; i++)
            p->given[i] = &pool[rnd_below(st, npool)];
        sb_str(&s, p->surname->hz);
        for (i = 0; i < p->ngiven; i++)
            sb_str(&s, p->given[i]->hz);
    } else {
        const struct intl_country *ct;

        ct = &intl_countries[rnd_weighted(st, intl_country_w, CU_ARRAY_LEN(intl_country_w),
                                          INTL_COUNTRY_TOTAL)];
        p->country = ct;
        p->city = &ct->cities[rnd_below(st, (uint32_t)ct->ncities)];
        p->first = &ct->first[rnd_below(st, (uint32_t)ct->nfirst)];
        p->last = &ct->last[rnd_below(st, (uint32_t)ct->nlast)];
        sb_str(&s, p->first->s);
        sb_ch(&s, ' ');
        sb_str(&s, p->last->s);
    }
    c->name = sb_dup(&s);

    /* Born 1950-2008, most between 1975 and 2002; a tenth did not say. */
    p->has_birth = !rnd_chance(st, 100);
    if (rnd_chance(st, 700))
        p->birth = rnd_range(st, days_from_civil(1975, 1, 1), days_from_civil(2002, 12, 31));
    else
        p->birth = rnd_range(st, days_from_civil(1950, 1, 1), days_from_civil(2008, 12, 31));
}

void synth_customer(uint64_t seed, uint64_t index, struct model_customer *c)
{
    struct person p;
    struct sb s;
    uint64_t st, mix = seed;
    size_t i, nphones, ndev;
    uint32_t r;

    memset(&p, 0, sizeof(p));
    s.n = 0;

    /* This record's own stream: a hash of the seed, mixed with the index. */
    st = synth_rand(&mix) ^ (index * 0xD1B54A32D192ED03ULL);
    mix = st;
    st = synth_rand(&mix);

    sb_ch(&s, 'C');
    sb_num(&s, index + 1, 8);
    c->customer_id = sb_dup(&s);

    gen_person(&st, &p, c);

    nphones = rnd_chance(&st, 100) ? 2 : 1;
    for (i = 0; i < nphones; i++) {
        s.n = 0;
        if (p.cn)
            gen_cn_phone(&st, &s);
        else
            gen_intl_phone(&st, &p, &s);
        c->phones[c->nphones++] = sb_dup(&s);
    }

    gen_email_account(&st, &p, c);
    gen_address(&st, &p, c);

    if (p.has_birth) {
        s.n = 0;
        sb_date(&s, p.birth);
        c->birth_date = sb_dup(&s);
    }

    r = rnd_below(&st, 100);
    ndev = r < 60 ? 1 : r < 90 ? 2 : 3;
    for (i = 0; i < ndev; i++)
        gen_device(&st, seed, index, i, &p, c);
}
