/*
 * Framebuffer text console: draws the log into the linear framebuffer GRUB
 * set up (32/24/16 bpp RGB, 8x16 glyphs), or into VGA text memory when GRUB
 * left the machine in EGA text mode.  On the pixel framebuffer the console
 * wraps to the top instead of scrolling: scrolling redraws the whole screen
 * through an uncached mapping, which costs far more than the log is worth.
 */
#include <hv/log.h>
#include <hv/mb2.h>
#include <hv/paging.h>
#include <hv/kstring.h>

#define GLYPH_W         8
#define GLYPH_H         16
#define FONT_FIRST      0x20
#define FONT_LAST       0x7E
#define EGA_ATTR        0x07        /* light grey on black */
#define FG_RGB          0xC0C0C0
#define BG_RGB          0x000000

extern const uint8_t font8x16[FONT_LAST - FONT_FIRST + 1][16];

static struct {
    bool active;
    bool text_mode;
    uint8_t *base;
    uint32_t pitch, bytes_pp;
    uint32_t cols, rows, col, row;
    uint32_t fg, bg;                /* in the framebuffer's own pixel format */
} con;

static uint32_t pack_rgb(const struct mb2_framebuffer *fb, uint32_t rgb)
{
    uint32_t r = (rgb >> 16) & 0xFF, g = (rgb >> 8) & 0xFF, b = rgb & 0xFF;
    return ((r >> (8 - fb->red_size)) << fb->red_pos) |
           ((g >> (8 - fb->green_size)) << fb->green_pos) |
           ((b >> (8 - fb->blue_size)) << fb->blue_pos);
}

void console_fb_init(const struct mb2_framebuffer *fb)
{
    if (!fb->present)
        return;
    if (fb->type == MB2_FB_EGA_TEXT) {
        con.text_mode = true;
        con.cols = fb->width;
        con.rows = fb->height;
        con.pitch = fb->pitch;
    } else if (fb->type == MB2_FB_RGB && (fb->bpp == 32 || fb->bpp == 24 || fb->bpp == 16) &&
               fb->red_size && fb->red_size <= 8 && fb->green_size && fb->green_size <= 8 &&
               fb->blue_size && fb->blue_size <= 8) {
        con.bytes_pp = fb->bpp / 8;
        con.cols = fb->width / GLYPH_W;
        con.rows = fb->height / GLYPH_H;
        con.pitch = fb->pitch;
        con.fg = pack_rgb(fb, FG_RGB);
        con.bg = pack_rgb(fb, BG_RGB);
    } else {
        pr_warn("framebuffer: type %u at %u bpp is not supported; screen console off",
                fb->type, fb->bpp);
        return;
    }
    if (con.cols == 0 || con.rows == 0)
        return;
    con.base = mmio_map(fb->addr, (uint64_t)fb->pitch * fb->height);
    if (!con.base) {
        pr_warn("framebuffer: cannot map %#llx; screen console off", (unsigned long long)fb->addr);
        return;
    }
    con.active = true;
}

static void put_pixel(uint8_t *p, uint32_t v)
{
    switch (con.bytes_pp) {
    case 4: *(volatile uint32_t *)p = v; break;
    case 3: p[0] = v; p[1] = v >> 8; p[2] = v >> 16; break;
    case 2: *(volatile uint16_t *)p = v; break;
    }
}

static void draw_cell(uint32_t col, uint32_t row, char c)
{
    if (con.text_mode) {
        volatile uint16_t *cell = (volatile uint16_t *)(con.base + row * con.pitch) + col;
        *cell = (uint16_t)(EGA_ATTR << 8) | (uint8_t)c;
        return;
    }
    unsigned ch = (unsigned char)c;
    const uint8_t *glyph = ch >= FONT_FIRST && ch <= FONT_LAST ? font8x16[ch - FONT_FIRST]
                                                               : font8x16[0];
    for (uint32_t y = 0; y < GLYPH_H; y++) {
        uint8_t *line = con.base + (row * GLYPH_H + y) * con.pitch + col * GLYPH_W * con.bytes_pp;
        for (uint32_t x = 0; x < GLYPH_W; x++)
            put_pixel(line + x * con.bytes_pp, (glyph[y] & (0x80 >> x)) ? con.fg : con.bg);
    }
}

static void clear_row(uint32_t row)
{
    for (uint32_t c = 0; c < con.cols; c++)
        draw_cell(c, row, ' ');
}

static void newline(void)
{
    con.col = 0;
    if (con.text_mode) {
        if (++con.row == con.rows) {
            /* Text mode is cheap to scroll: 2 bytes per cell. */
            memmove(con.base, con.base + con.pitch, (size_t)con.pitch * (con.rows - 1));
            con.row = con.rows - 1;
            clear_row(con.row);
        }
        return;
    }
    con.row = (con.row + 1) % con.rows;
    clear_row(con.row);
    clear_row((con.row + 1) % con.rows);    /* a blank line marks where the newest output is */
}

void console_fb_write(const char *s, size_t n)
{
    if (!con.active)
        return;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n') {
            newline();
        } else if (c == '\r') {
            con.col = 0;
        } else {
            if (con.col == con.cols)
                newline();
            draw_cell(con.col++, con.row, c);
        }
    }
}
