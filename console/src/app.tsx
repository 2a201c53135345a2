/** The console's frame: sign-in gate, banner with navigation and sign-out, the routed page. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { clearToken, getToken, setUnauthorizedListener } from './api';
import { ProjectsPage } from './projects';
import { ProjectPage } from './project';
import { navigate, parseRoute, paths, useLocation } from './router';
import { SignIn } from './signin';

export function App() {
  const [signedIn, setSignedIn] = useState(Boolean(getToken()));
  const [notice, setNotice] = useState<string | undefined>();
  const path = useLocation();
  const signedInRef = useRef(signedIn);
  signedInRef.current = signedIn;
  useEffect(() => {
    setUnauthorizedListener(() => {
      // The sign-in form reports a refused token itself.
      if (!signedInRef.current) return;
      clearToken();
      setNotice('Your session ended: the API refused the token (401). Sign in again.');
      setSignedIn(false);
    });
  }, []);
  // Focus moves to the new page's heading, so keyboard and screen reader users land on it.
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [path, signedIn]);
  if (!signedIn) {
    return <SignIn notice={notice} onSignedIn={() => { setNotice(undefined); setSignedIn(true); }} />;
  }
  const signOut = () => {
    clearToken();
    setNotice('You are signed out.');
    setSignedIn(false);
  };
  const route = parseRoute(path);
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="banner">
        <a class="brand" href={paths.projects()}>labelsync</a>
        <nav aria-label="Main">
          <a href={paths.projects()} aria-current={route.page === 'projects' ? 'page' : undefined}>Projects</a>
        </nav>
        <button type="button" onClick={signOut}>Sign out</button>
      </header>
      <main id="main">
        {route.page === 'projects' && <ProjectsPage />}
        {(route.page === 'storage' || route.page === 'tasks' || route.page === 'task' || route.page === 'webhooks') && (
          <ProjectPage key={route.projectId} route={route} />
        )}
        {route.page === 'not-found' && (
          <>
            <h1 tabIndex={-1}>Page not found</h1>
            <p>Nothing lives at <code>{route.path}</code>. <a href={paths.projects()} onClick={(e) => { e.preventDefault(); navigate(paths.projects()); }}>Back to the projects</a>.</p>
          </>
        )}
      </main>
    </>
  );
}
