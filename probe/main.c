/* SPDX-License-Identifier: GPL-2.0-or-later */
/* placeholder until the probe lands */
int main (void);
int
main (void)
{
  return 1;
}
