# odoo-ops serve's browser tests (tests/e2e/test_serve_browser.py) drive Debian's
# headless Chromium with Selenium: chromium comes from 10-debian-tools.sh, the
# WebDriver for it from chromium-driver (the same Debian build, no download).
command -v chromedriver >/dev/null 2>&1 || ci_apt_install chromium-driver
