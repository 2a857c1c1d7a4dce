// Signing in to the admin UI the way an operator does: the password typed into the login form and its button.
import type { Page } from 'playwright-core';

/** Types the password into the login form on screen and submits it; what follows (an error, a page) is the caller's. */
export async function logIn(page: Page, password: string): Promise<void> {
  await page.getByLabel('Admin password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Opens the UI at its start and signs in; resolves once the dashboard shows. */
export async function logInToDashboard(page: Page, password: string): Promise<void> {
  await page.goto('/');
  await logIn(page, password);
  await page.getByTestId('page-dashboard').waitFor();
}
