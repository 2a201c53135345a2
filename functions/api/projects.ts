/**
 * Projects, task import, tasks and annotations (Label Studio routes), and the caller's organization. Thin: parse → use case →
 * response; errors are mapped by the shared pipeline.
 */
import { currentOrganization } from '../../shared/api/organizations';
import { createTaskAnnotation, deleteOwnedAnnotation, getOwnedAnnotation, listAnnotationsOfTask, patchAnnotation, serializeAnnotation } from '../../shared/api/annotations';
import { createProject, deleteProject, getOwnedProject, listOwnedProjects, patchProject, serializeProject } from '../../shared/api/projects';
import { createTask, deleteAllProjectTasks, deleteOwnedTask, getTaskDetail, importTasks, listTasks, patchOwnedTask } from '../../shared/api/tasks';
import { parseId, pathId } from '../../shared/api/validation';
import { parseJsonBody } from '../../shared/http/body';
import { createApiHandler, type RequestContext } from '../../shared/http/handler';
import { processApp } from '../../shared/process-app';
import { Router } from '../../shared/http/router';
import { json, noContent } from '../../shared/http/types';

/** Routes of this function (exported for the OpenAPI document and tests). */
export const router = new Router<RequestContext>()
  .get('/api/organizations/current', async (_r, _p, { app, principal }) => json(await currentOrganization(app.db, principal)))
  .get('/api/projects', async (req, _p, { app, principal }) => {
    const page = req.query.page === undefined ? undefined : parseId(req.query.page, 'page');
    const pageSize = req.query.page_size === undefined ? undefined : Math.min(parseId(req.query.page_size, 'page_size'), 1000);
    return json(await listOwnedProjects(app, principal, { page, pageSize, cursor: req.query.cursor, basePath: '/api/projects' }));
  })
  .post('/api/projects', async (req, _p, { app, principal }) => json(serializeProject(await createProject(app, principal, parseJsonBody(req))), 201))
  .get('/api/projects/{id}', async (_r, p, { app, principal }) => json(serializeProject(await getOwnedProject(app, principal, pathId(p.id)))))
  .patch('/api/projects/{id}', async (req, p, { app, principal }) =>
    json(serializeProject(await patchProject(app, principal, pathId(p.id), parseJsonBody(req)))),
  )
  .delete('/api/projects/{id}', async (_r, p, { app, principal }) => {
    await deleteProject(app, principal, pathId(p.id));
    return noContent();
  })
  .post('/api/projects/{id}/import', async (req, p, { app, principal }) =>
    json(await importTasks(app, principal, pathId(p.id), parseJsonBody(req), { returnTaskIds: /^(1|true|yes)$/i.test(req.query.return_task_ids ?? '') }), 201),
  )
  .delete('/api/projects/{id}/tasks', async (_r, p, { app, principal }) => {
    const { deleted, done } = await deleteAllProjectTasks(app, principal, pathId(p.id));
    return done ? noContent() : json({ detail: 'Time budget reached: some tasks remain, repeat the request.', deleted }, 202);
  })
  .get('/api/tasks', async (req, _p, { app, principal }) => json(await listTasks(app, principal, req.query, req)))
  .post('/api/tasks', async (req, _p, { app, principal }) => json(await createTask(app, principal, parseJsonBody(req)), 201))
  .get('/api/tasks/{id}', async (req, p, { app, principal }) => json(await getTaskDetail(app, principal, pathId(p.id), req)))
  .patch('/api/tasks/{id}', async (req, p, { app, principal }) => json(await patchOwnedTask(app, principal, pathId(p.id), parseJsonBody(req))))
  .delete('/api/tasks/{id}', async (_r, p, { app, principal }) => {
    await deleteOwnedTask(app, principal, pathId(p.id));
    return noContent();
  })
  .get('/api/tasks/{id}/annotations', async (_r, p, { app, principal }) => json(await listAnnotationsOfTask(app, principal, pathId(p.id))))
  .post('/api/tasks/{id}/annotations', async (req, p, { app, principal }) =>
    json(serializeAnnotation(await createTaskAnnotation(app, principal, pathId(p.id), parseJsonBody(req))), 201),
  )
  .get('/api/annotations/{id}', async (_r, p, { app, principal }) => json(serializeAnnotation(await getOwnedAnnotation(app, principal, pathId(p.id)))))
  .patch('/api/annotations/{id}', async (req, p, { app, principal }) =>
    json(serializeAnnotation(await patchAnnotation(app, principal, pathId(p.id), parseJsonBody(req)))),
  )
  .delete('/api/annotations/{id}', async (_r, p, { app, principal }) => {
    await deleteOwnedAnnotation(app, principal, pathId(p.id));
    return noContent();
  });

export const handler = createApiHandler(router, processApp);
